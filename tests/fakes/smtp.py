"""A fake mail server: aiosmtpd's SMTP (a real RFC 5321 server) on 127.0.0.1, requiring
AUTH with one user and password as a provider's submission port does, keeping every message.

`delay_s` holds each message's final answer back, as a busy relay does.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USER = "mailer"
PASSWORD = "smtp p@ss/word"


@dataclass
class FakeSmtp:
    port: int = 0
    delay_s: float = 0.0
    messages: asyncio.Queue[EmailMessage] = field(default_factory=asyncio.Queue)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"smtp://{USER}:smtp%20p%40ss%2Fword@127.0.0.1:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _protocol(self) -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS is what this loopback fake is for; aiosmtpd warns of it.
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(
                self,
                hostname="fake-smtp.test",
                auth_required=True,
                auth_require_tls=False,
                authenticator=self._authenticate,
            )

    @staticmethod
    def _authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        await self.messages.put(message)
        return "250 OK"
