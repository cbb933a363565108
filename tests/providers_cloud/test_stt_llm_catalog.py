"""The six cloud STT and four cloud LLM vendors as the catalog and the registry present them."""

from __future__ import annotations

import pytest

from providers import builtin
from providers.base import ProviderConfig, ProviderKind, STTProvider
from providers.registry import InvalidOptions, ProviderConfigError, build, catalog, validate

# vendor -> the PCM rate its provider asks the pipeline for (8 kHz: no resample off the line)
CLOUD_STT = {
    "deepgram": 8000,
    "openai": 8000,
    "whisper": 8000,
    "elevenlabs": 8000,
    "qwen": 8000,
    "fish_audio": 8000,
}
CLOUD_LLM = ["openai", "claude", "gemini", "kimi"]
CONNECTION_OPTIONS = {"base_url", "connect_timeout", "read_timeout", "max_attempts"}


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


def test_catalog_lists_every_stt_vendor_with_its_rate() -> None:
    listed = {info.vendor: info for info in catalog(ProviderKind.STT)}
    for vendor, rate in CLOUD_STT.items():
        info = listed[vendor]
        assert info.sample_rate == rate
        assert info.needs_api_key is (vendor != "whisper")
        assert not info.offline
        assert set(info.options_schema["properties"]) >= CONNECTION_OPTIONS
        provider = build("stt", ProviderConfig(vendor=vendor, api_key="k"))
        assert isinstance(provider, STTProvider)
        assert provider.sample_rate == rate


def test_catalog_lists_every_llm_vendor_with_models() -> None:
    listed = {info.vendor: info for info in catalog(ProviderKind.LLM)}
    for vendor in CLOUD_LLM:
        info = listed[vendor]
        assert info.needs_api_key
        assert info.default_model in info.models
        properties = set(info.options_schema["properties"])
        assert {"base_url", "temperature", "max_tokens", "max_attempts"} <= properties


@pytest.mark.parametrize(
    ("kind", "vendor"),
    [("stt", v) for v in sorted(CLOUD_STT) if v != "whisper"] + [("llm", v) for v in CLOUD_LLM],
)
def test_api_key_is_required(kind: str, vendor: str) -> None:
    with pytest.raises(ProviderConfigError, match="API key"):
        validate(kind, ProviderConfig(vendor=vendor))


@pytest.mark.parametrize(
    ("kind", "vendor"), [("stt", v) for v in sorted(CLOUD_STT)] + [("llm", v) for v in CLOUD_LLM]
)
def test_unknown_or_bad_option_is_named(kind: str, vendor: str) -> None:
    with pytest.raises(InvalidOptions) as unknown:
        build(kind, ProviderConfig(vendor=vendor, api_key="k", options={"colour": "blue"}))
    assert unknown.value.option == "colour"
    with pytest.raises(InvalidOptions) as bad:
        build(kind, ProviderConfig(vendor=vendor, api_key="k", options={"max_attempts": 0}))
    assert bad.value.option == "max_attempts"
