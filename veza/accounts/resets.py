"""Password-reset requests: answered at once, worked off by one mailer task.

The request path only queues the address, so a known and an unknown email take the same time
to answer; the lookup, the token and the mail happen later in `run`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio

from veza.accounts import policy
from veza.accounts.mail import Mail, MailSender
from veza.accounts.tokens import new_opaque_token
from veza.store.accounts import AccountsRepository

log = logging.getLogger(__name__)

_QUEUE_SIZE = 256
_SEND_TIMEOUT_SECONDS = 30.0


class PasswordResets:
    def __init__(
        self,
        repository: AccountsRepository,
        mail: MailSender,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repository
        self._mail = mail
        self._ttl = ttl_seconds
        self._clock = clock
        self._send, self._receive = trio.open_memory_channel[str](_QUEUE_SIZE)

    def request(self, email: str) -> None:
        """Queue a reset for this address; never says whether it belongs to anyone."""
        key = policy.email_key(email)
        if not key.isprintable():
            return  # belongs to nobody: registration refuses such addresses
        try:
            self._send.send_nowait(key)
        except trio.WouldBlock:
            # Bounded on purpose: a flood of requests is dropped, not buffered.
            log.warning("password-reset queue is full; request dropped")

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Work off queued requests until cancelled; one failure never stops the mailer."""
        task_status.started()
        async for key in self._receive:
            try:
                with trio.fail_after(_SEND_TIMEOUT_SECONDS):
                    await self._deliver(key)
            except Exception:
                log.exception("password-reset mail could not be sent")

    async def _deliver(self, key: str) -> None:
        user = await self._repo.user_by_email_key(key)
        if user is None or user.disabled:
            return
        token = new_opaque_token()
        now = self._clock()
        await self._repo.insert_reset_token(
            id=token.id,
            user_id=user.id,
            token_hash=token.digest,
            now=now,
            expires_at=now + self._ttl,
        )
        minutes = max(1, self._ttl // 60)
        await self._mail.send(
            Mail(
                to=user.email,
                subject="Reset your Veza password",
                body=(
                    f"Hello {user.username},\n\n"
                    "Someone asked to reset the password of your Veza account. If it was you,\n"
                    f"use this token within {minutes} minutes (it works once):\n\n"
                    f"    {token.token}\n\n"
                    "If it was not you, ignore this message: your password is unchanged.\n"
                ),
            )
        )
