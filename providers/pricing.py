"""What a call's provider usage cost: a price per vendor and model in the units the vendor
bills (minutes of audio for speech recognition, characters for synthesis, tokens for language
models), shipped defaults that a tenant's own prices replace row by row, and the arithmetic.

Offline vendors (the registry says which) cost nothing. A vendor with no price is reported as
unpriced rather than as free, so a missing price is seen, not mistaken for a cheap call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any, Final, Literal

import msgspec

from providers import builtin, registry
from providers.base import ProviderKind
from providers.registry import VendorInfo

CURRENCY: Final = "USD"
# Any model of the vendor that has no row of its own.
ANY_MODEL: Final = "*"
# Amounts are kept to a millionth of a dollar: the smallest unit any vendor bills is finer
# than a cent (a second of audio, one token) and sums of many rounded cents drift.
AMOUNT_DIGITS: Final = 6
_PER_MILLION: Final = 1_000_000
_SECONDS_PER_MINUTE: Final = 60

Rate = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Price(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The rates of one vendor's model (`*`: its other models). Rates a vendor does not bill
    by stay 0."""

    kind: Literal["stt", "llm", "tts"]
    vendor: ShortText
    model: ShortText = ANY_MODEL
    per_audio_minute: Rate = 0.0
    per_million_characters: Rate = 0.0
    per_million_input_tokens: Rate = 0.0
    per_million_output_tokens: Rate = 0.0


# The day the defaults below were read from the sources named on each row. No network is used
# at run time: a tenant whose contract differs sets its own prices.
DEFAULTS_CHECKED: Final = date(2026, 12, 5)
DEFAULT_PRICES: Final = (
    # Deepgram streaming speech-to-text, pay as you go: $0.0059/min for Nova-3 and Nova-2
    # (Deepgram pricing as summarised in "Deepgram Pricing (2026)", skillui.com).
    Price(kind="stt", vendor="deepgram", model="nova-3", per_audio_minute=0.0059),
    Price(kind="stt", vendor="deepgram", model="nova-2", per_audio_minute=0.0059),
    Price(kind="stt", vendor="deepgram", model="nova-2-phonecall", per_audio_minute=0.0059),
    # ElevenLabs API, June 2026 (developer.puter.com "ElevenLabs API Pricing"): Scribe v2
    # Realtime $0.39/hour; Flash/Turbo speech $0.05 per 1,000 characters, Multilingual
    # v2/v3 $0.10 per 1,000 characters.
    Price(kind="stt", vendor="elevenlabs", per_audio_minute=0.0065),
    Price(kind="tts", vendor="elevenlabs", per_million_characters=100.0),
    Price(kind="tts", vendor="elevenlabs", model="eleven_flash_v2_5", per_million_characters=50.0),
    Price(kind="tts", vendor="elevenlabs", model="eleven_turbo_v2_5", per_million_characters=50.0),
    # OpenAI gpt-4o-mini-tts: $0.60 per 1M input characters plus audio out, which OpenAI's
    # pricing page estimates at $0.015 per minute (community.openai.com thread 1151816,
    # tokenmix.ai April 2026). gpt-4o-mini-transcribe: about $0.003 per minute of audio in
    # (OpenAI's "estimated cost", per halfpower.work).
    Price(
        kind="tts",
        vendor="openai",
        model="gpt-4o-mini-tts",
        per_million_characters=0.60,
        per_audio_minute=0.015,
    ),
    Price(kind="stt", vendor="openai", model="gpt-4o-mini-transcribe", per_audio_minute=0.003),
    # Anthropic: Claude Haiku 4.5 $1/M input, $5/M output; Sonnet 4.6 $3/M, $15/M
    # (Anthropic's pricing page as quoted by c-ai.chat and hivebook.wiki, 2026).
    Price(
        kind="llm",
        vendor="claude",
        model="claude-haiku-4-5",
        per_million_input_tokens=1.0,
        per_million_output_tokens=5.0,
    ),
    Price(
        kind="llm",
        vendor="claude",
        model="claude-sonnet-4-6",
        per_million_input_tokens=3.0,
        per_million_output_tokens=15.0,
    ),
)


class CostItem(msgspec.Struct, kw_only=True):
    """One provider's share of a call: what it used, at which price, for how much."""

    provider: str  # the usage key, e.g. "llm:claude" or "analysis:llm:claude"
    kind: str
    vendor: str
    model: str | None
    audio_seconds: float = 0.0
    characters: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    amount: float = 0.0
    # False: no price is known for this vendor and model, so `amount` is 0 but not free.
    priced: bool = True
    offline: bool = False


class CallCost(msgspec.Struct, kw_only=True):
    total: float
    currency: str = CURRENCY
    items: list[CostItem] = msgspec.field(default_factory=list)
    # Providers whose price is unknown: the total leaves them out.
    unpriced: list[str] = msgspec.field(default_factory=list)


class PriceTable:
    """A tenant's prices over the defaults: a tenant's row replaces the default of the same
    kind, vendor and model."""

    def __init__(self, tenant_prices: Iterable[Price] = ()) -> None:
        self._prices: dict[tuple[str, str, str], Price] = {
            (p.kind, p.vendor, p.model): p for p in DEFAULT_PRICES
        }
        for price in tenant_prices:
            self._prices[(price.kind, price.vendor, price.model)] = price

    def price(self, kind: str, vendor: str, model: str | None) -> Price | None:
        if model is not None:
            exact = self._prices.get((kind, vendor, model))
            if exact is not None:
                return exact
        return self._prices.get((kind, vendor, ANY_MODEL))

    def cost(self, usage: Mapping[str, Any]) -> CallCost:
        """The cost of a call's stored `provider_usage` (see ari_app/record_format.py)."""
        found = (self._item(key, counters) for key, counters in usage.items())
        items = [item for item in found if item is not None]
        total = round(sum(i.amount for i in items), AMOUNT_DIGITS)
        unpriced = [i.provider for i in items if not i.priced]
        return CallCost(total=total, items=items, unpriced=unpriced)

    def _item(self, key: str, counters: object) -> CostItem | None:
        if not isinstance(counters, Mapping):
            return None
        parts = key.split(":")
        if parts[0] == "analysis":
            parts = parts[1:]
        if len(parts) < 2 or parts[0] not in {k.value for k in ProviderKind}:
            return None
        kind, vendor = parts[0], parts[1]
        info = _vendor_info(kind, vendor)
        model = counters.get("model")
        if not isinstance(model, str):
            # The agent took the vendor's default model.
            model = info.default_model if info is not None else None
        item = CostItem(
            provider=key,
            kind=kind,
            vendor=vendor,
            model=model,
            audio_seconds=float(_number(counters.get("audio_seconds"))),
            characters=int(_number(counters.get("characters"))),
            input_tokens=int(_number(counters.get("input_tokens"))),
            output_tokens=int(_number(counters.get("output_tokens"))),
        )
        if info is not None and info.offline:
            item.offline = True
            return item
        price = self.price(kind, vendor, item.model)
        if price is None:
            item.priced = False
            return item
        item.amount = round(_amount(item, price), AMOUNT_DIGITS)
        return item


def _amount(item: CostItem, price: Price) -> float:
    # A TTS vendor's audio_seconds is audio it produced, an STT vendor's audio it heard: the
    # per-minute rate applies to either, as the vendor bills it.
    return (
        item.audio_seconds / _SECONDS_PER_MINUTE * price.per_audio_minute
        + item.characters / _PER_MILLION * price.per_million_characters
        + item.input_tokens / _PER_MILLION * price.per_million_input_tokens
        + item.output_tokens / _PER_MILLION * price.per_million_output_tokens
    )


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _vendor_info(kind: str, vendor: str) -> VendorInfo | None:
    builtin.load_all()
    try:
        return registry.get(ProviderKind(kind), vendor)
    except LookupError:
        return None
