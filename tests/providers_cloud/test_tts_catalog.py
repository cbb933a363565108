"""The six cloud TTS vendors as the catalog and the registry present them."""

from __future__ import annotations

import pytest

from providers import builtin
from providers.base import ProviderConfig, ProviderKind
from providers.registry import InvalidOptions, ProviderConfigError, build, catalog, validate
from providers.tts.cloud import CloudTTS

# vendor -> native output rate (8 kHz wherever the vendor can: no resample on a phone line)
CLOUD_TTS = {
    "deepgram": 8000,
    "openai": 24000,
    "elevenlabs": 8000,
    "qwen": 8000,
    "resemble": 8000,
    "fish_audio": 8000,
}


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


def test_catalog_lists_each_vendor_with_metadata() -> None:
    listed = {info.vendor: info for info in catalog(ProviderKind.TTS)}
    for vendor, rate in CLOUD_TTS.items():
        info = listed[vendor]
        assert info.needs_api_key and not info.offline
        assert info.sample_rate == rate
        schema = info.options_schema
        assert {"base_url", "connect_timeout", "read_timeout", "max_attempts"} <= set(
            schema["properties"]
        )


@pytest.mark.parametrize("vendor", sorted(CLOUD_TTS))
def test_api_key_is_required(vendor: str) -> None:
    with pytest.raises(ProviderConfigError, match="API key"):
        validate("tts", ProviderConfig(vendor=vendor, voice=None))


@pytest.mark.parametrize("vendor", sorted(CLOUD_TTS))
def test_unknown_option_is_named(vendor: str) -> None:
    config = ProviderConfig(vendor=vendor, api_key="k", voice=None, options={"colour": "blue"})
    with pytest.raises(InvalidOptions) as caught:
        build("tts", config)
    assert caught.value.option == "colour"


@pytest.mark.parametrize("vendor", sorted(CLOUD_TTS))
async def test_builds_with_defaults_and_reports_its_rate(vendor: str) -> None:
    voice = "a-voice-uuid" if vendor == "resemble" else None
    provider = build("tts", ProviderConfig(vendor=vendor, api_key="k", voice=voice))
    assert isinstance(provider, CloudTTS)
    assert provider.sample_rate == CLOUD_TTS[vendor]
    await provider.close()
