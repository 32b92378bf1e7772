"""Mail senders: the SMTP sender against a minimal SMTP server on loopback, and a password
reset delivered through it end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.support.accounts import fast_settings, register
from tests.support.mail import SmtpServer
from tests.support.server import RunningServer
from veza.accounts.mail import Mail, SmtpMailSender, mail_sender
from veza.config import Settings


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    server = SmtpServer()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        yield server
        nursery.cancel_scope.cancel()


def smtp_settings(tmp_path: Path, port: int) -> Settings:
    return fast_settings(
        tmp_path,
        mail_backend="smtp",
        mail_from="veza@example.org",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
    )


async def test_smtp_sender_delivers_one_message(smtp: SmtpServer, tmp_path: Path) -> None:
    sender = mail_sender(smtp_settings(tmp_path, smtp.port))
    assert isinstance(sender, SmtpMailSender)
    await sender.send(Mail(to="bob@example.org", subject="Hello", body="Line one\nLine two\n"))
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert "From: veza@example.org" in message
    assert "To: bob@example.org" in message
    assert "Subject: Hello" in message
    assert "Line two" in message


class TestPasswordResetBySmtp:
    @pytest.fixture
    def settings(self, tmp_path: Path, smtp: SmtpServer) -> Settings:
        return smtp_settings(tmp_path, smtp.port)

    async def test_reset_mail_goes_out_through_smtp(
        self, server: RunningServer, smtp: SmtpServer
    ) -> None:
        await register(server.client, "alice")
        response = await server.client.post(
            "/api/v1/auth/password-reset", json={"email": "alice@example.org"}
        )
        assert response.status_code == 202
        with trio.fail_after(5):
            await smtp.received.wait()
        assert "To: alice@example.org" in smtp.messages[0]
        assert "Reset your Veza password" in smtp.messages[0]
