"""Where a test reads the mail Veza sends: the log sender's messages as they are written, and a
minimal SMTP server on loopback."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import trio

_TOKEN = re.compile(r"^    (\S+\.\S+)$", re.MULTILINE)


class Mailbox(logging.Handler):
    """The password-reset tokens the log mail sender writes, by recipient; a test waits on
    the message itself rather than polling for it. The log sender writes from the event loop's
    thread, so waking a waiting task from `emit` is safe."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.tokens: dict[str, list[str]] = {}
        self._arrived = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("mail to "):
            return
        to = message.removeprefix("mail to ").partition(":")[0]
        found = _TOKEN.search(message)
        assert found is not None, message
        self.tokens.setdefault(to, []).append(found.group(1))
        self._arrived.set()
        self._arrived = trio.Event()

    async def wait_for(self, to: str, count: int = 1, limit_s: float = 5) -> list[str]:
        """The tokens of the first `count` messages to `to`, once that many were written."""
        with trio.fail_after(limit_s):
            while len(self.tokens.get(to, [])) < count:
                await self._arrived.wait()
        return self.tokens[to][:count]

    async def token_for(self, to: str) -> str:
        """The token of the first message to `to`, once it was written."""
        return (await self.wait_for(to))[0]


@contextmanager
def open_mailbox() -> Iterator[Mailbox]:
    """A Mailbox on the log sender's logger for the body of the block."""
    logger = logging.getLogger("veza.accounts.mail")
    mailbox = Mailbox()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(mailbox)
    try:
        yield mailbox
    finally:
        logger.removeHandler(mailbox)
        logger.setLevel(level)


class SmtpServer:
    """Just enough of RFC 5321 for smtplib without STARTTLS or AUTH; keeps each message.
    `delay_s` holds back the answer to DATA: a slow mail server."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.port = 0
        self.delay_s = delay_s
        self.messages: list[str] = []
        self.received = trio.Event()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self.handle, listeners)

    async def handle(self, stream: trio.SocketStream) -> None:
        buffer = b""

        async def line() -> str:
            nonlocal buffer
            while b"\r\n" not in buffer:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    raise trio.EndOfChannel
                buffer += chunk
            text, _, buffer = buffer.partition(b"\r\n")
            return text.decode()

        async def reply(text: str) -> None:
            await stream.send_all(text.encode() + b"\r\n")

        await reply("220 test ESMTP")
        try:
            while True:
                command = (await line()).upper()
                if command.startswith("DATA"):
                    await reply("354 go on")
                    lines = []
                    while (text := await line()) != ".":
                        lines.append(text)
                    await trio.sleep(self.delay_s)
                    self.messages.append("\n".join(lines))
                    self.received.set()
                    await reply("250 queued")
                elif command.startswith("QUIT"):
                    await reply("221 bye")
                    return
                else:
                    await reply("250 ok")
        except trio.EndOfChannel:
            return
