"""ARI errors: every non-2xx answer becomes an `AriError` carrying ARI's status and message."""

from __future__ import annotations


class AriError(Exception):
    """ARI answered `status` (or could not be reached: status 0) to `method path`."""

    def __init__(self, status: int, message: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {message}")
        self.status = status
        self.message = message
        self.method = method
        self.path = path


class AriUnreachable(AriError):
    """No HTTP answer: connection refused, reset, or the request timed out."""


class BadRequest(AriError):
    """400: a missing or invalid parameter."""


class Unauthorized(AriError):
    """401: no or wrong credentials."""


class Forbidden(AriError):
    """403: ACL, read-only user or read-only sorcery wizard."""


class NotFound(AriError):
    """404: the channel, bridge, module, endpoint or variable does not exist."""


class Conflict(AriError):
    """409: not in Stasis, id already used, reload failed or in progress."""


class InvalidState(AriError):
    """412: the channel is in the wrong state (e.g. already hung up)."""


class Unprocessable(AriError):
    """422: semantically invalid (channel not in Stasis or not in this bridge)."""


class ServerError(AriError):
    """5xx: Asterisk failed (e.g. 500 "Allocation failed" for an unknown endpoint)."""


_BY_STATUS: dict[int, type[AriError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: InvalidState,
    422: Unprocessable,
}


def error_for(status: int, message: str, method: str, path: str) -> AriError:
    """The `AriError` subclass for an HTTP status."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else AriError)
    return cls(status, message, method, path)
