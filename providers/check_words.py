"""What a failed credential check means, in the plain words `vocals providers check` and the
admin UI's Test button both say.

The words never quote the vendor's answer: the API's check may have reached any address a
base URL named, and what that address said is not ours to show.
"""

from __future__ import annotations

import httpx
import websockets

from providers.base import ProviderError, ProviderTimeout


def failure_words(exc: BaseException, vendor: str, timeout_s: float) -> str | None:
    """The sentence for a check of `vendor` that raised `exc` (None: not a check failure)."""
    account = f"your {vendor} account"
    if isinstance(exc, TimeoutError | ProviderTimeout):
        return f"no answer from {vendor} within {timeout_s:g} s"
    if isinstance(exc, ProviderError):
        # Providers word a refused key "credential refused" whatever status the vendor used
        # (Gemini answers a bad key with 400).
        if exc.status == 401 or "credential refused" in str(exc):
            return f"the key was refused by {vendor}: check it in {account}"
        if exc.status == 403:
            return (
                f"the key is valid but not allowed to do this: check its permissions in {account}"
            )
        if exc.status == 429:
            return f"{vendor} is rate limiting this key or it is out of quota: check {account}"
        if exc.status is not None and exc.status >= 500:
            return f"{vendor} is failing right now (HTTP {exc.status}): try again later"
        if exc.status is not None:
            return f"{vendor} answered HTTP {exc.status}: check the model and options"
        return f"{vendor} did not answer as expected: check the base URL and options"
    if isinstance(exc, UnicodeEncodeError):
        return "the key has characters no request can carry: paste it again"
    if isinstance(exc, OSError | httpx.HTTPError | websockets.exceptions.WebSocketException):
        return f"{vendor} is unreachable: check the network and the base URL"
    return None
