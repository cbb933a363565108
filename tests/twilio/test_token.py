"""Stream tokens: sealed claims that only this deployment can issue, for a minute."""

from __future__ import annotations

import uuid

import pytest

from store.secrets import SecretBox
from twilio_adapter.token import InvalidToken, StreamClaims, StreamTokens

KEY = "k" * 40


def _claims() -> StreamClaims:
    return StreamClaims(tenant_id=uuid.uuid4(), call_id=uuid.uuid4(), agent_id=uuid.uuid4(),
                        call_sid="CA" + "0" * 32, direction="inbound")  # fmt: skip


def test_round_trip_and_expiry() -> None:
    tokens = StreamTokens(SecretBox(KEY), ttl_s=60)
    claims = _claims()
    token = tokens.issue(claims, now=1000.0)
    opened = tokens.open(token, now=1059.0)
    assert (opened.tenant_id, opened.call_id, opened.agent_id) == (
        claims.tenant_id, claims.call_id, claims.agent_id,
    )  # fmt: skip
    with pytest.raises(InvalidToken, match="expired"):
        tokens.open(token, now=1061.0)


def test_tampered_foreign_or_garbage_tokens_are_refused() -> None:
    tokens = StreamTokens(SecretBox(KEY))
    token = tokens.issue(_claims())
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    foreign = StreamTokens(SecretBox("o" * 40)).issue(_claims())
    other_purpose = SecretBox(KEY).encrypt('{"x":1}', "webhooks.secret").hex()
    for bad in (flipped, foreign, "", "%%%", other_purpose, token[:-5]):
        with pytest.raises(InvalidToken):
            tokens.open(bad)


def test_token_survives_key_rotation() -> None:
    old = StreamTokens(SecretBox(KEY)).issue(_claims())
    assert StreamTokens(SecretBox("n" * 40, previous_keys=(KEY,))).open(old)
