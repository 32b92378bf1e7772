"""Outgoing mail: one sender interface, a log sender (the default) and an SMTP sender."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import trio

from veza.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class MailSender(Protocol):
    async def send(self, mail: Mail) -> None:
        """Deliver one message or raise; callers bound the wait."""
        ...


class LogMailSender:
    """Writes each message to the log: enough for a single-user install or development."""

    async def send(self, mail: Mail) -> None:
        log.info("mail to %s: %s\n%s", mail.to, mail.subject, mail.body)


class SmtpMailSender:
    """smtplib in a worker thread, one connection per message, with STARTTLS unless disabled."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limiter = trio.CapacityLimiter(2)

    async def send(self, mail: Mail) -> None:
        await trio.to_thread.run_sync(self._send, mail, limiter=self._limiter)

    def _send(self, mail: Mail) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(message)


def mail_sender(settings: Settings) -> MailSender:
    if settings.mail_backend == "smtp":
        return SmtpMailSender(settings)
    return LogMailSender()
