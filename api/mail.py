"""Mail to people (invitations, password resets): through the operator's SMTP server
(VOCALS_SMTP_URL), or, with none configured, written to the log at info for development.

Mail goes out after the request has been answered, so how long the SMTP server takes does
not show in the answer's timing (which would tell whether an e-mail has an account).
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib
import structlog

log = structlog.get_logger(__name__)

DEFAULT_SENDER = "Vocals <vocals@localhost>"
# A mail server that has not answered within this is reported as failing; the link stays
# valid, so an admin can send another.
_SMTP_TIMEOUT_S = 30.0
_SMTPS_PORT = 465
_SUBMISSION_PORT = 587


class Mailer:
    """Sends plain-text mail in the background; `aclose` waits for what is on its way."""

    def __init__(self, smtp_url: str | None = None, sender: str = DEFAULT_SENDER) -> None:
        self._smtp = None if smtp_url is None else urlsplit(smtp_url)
        self._sender = sender
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def log_only(self) -> bool:
        return self._smtp is None

    def send_later(self, to: str, subject: str, body: str) -> None:
        task = asyncio.get_running_loop().create_task(self._send(to, subject, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _send(self, to: str, subject: str, body: str) -> None:
        if self._smtp is None:
            # Development only (README, "Mail"): the body holds the link, token and all.
            log.info("mail.log_only", to=to, subject=subject, body=body)
            return
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        implicit_tls = self._smtp.scheme == "smtps"
        try:
            await aiosmtplib.send(
                message,
                hostname=self._smtp.hostname,
                port=self._smtp.port or (_SMTPS_PORT if implicit_tls else _SUBMISSION_PORT),
                username=unquote(self._smtp.username) if self._smtp.username else None,
                password=unquote(self._smtp.password) if self._smtp.password else None,
                use_tls=implicit_tls,
                timeout=_SMTP_TIMEOUT_S,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning("mail.failed", to=to, subject=subject, error=type(exc).__name__)
            return
        log.info("mail.sent", to=to, subject=subject)
