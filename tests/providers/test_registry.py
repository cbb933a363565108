"""The vendor registry: catalog metadata, lookups, option validation and conditional vendors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Annotated

import msgspec
import pytest

from providers.base import LLMProvider, Message, ProviderConfig, ProviderError, ProviderKind
from providers.registry import (
    InvalidOptions,
    ProviderConfigError,
    Registry,
    UnknownVendor,
    VendorInfo,
    env_flag,
    parse_options,
)


class EchoOptions(msgspec.Struct, forbid_unknown_fields=True):
    prefix: str = ""
    repeat: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1


class EchoLLM(LLMProvider):
    vendor = "echo"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.options = parse_options(config, EchoOptions)

    async def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        for _ in range(self.options.repeat):
            yield self.options.prefix + messages[-1].content


ECHO = VendorInfo(
    kind=ProviderKind.LLM,
    vendor="echo",
    display_name="Echo",
    models=["echo-1", "echo-2"],
    default_model="echo-1",
)


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.add(ECHO, EchoLLM, options=EchoOptions)
    return registry


def test_catalog_carries_schema_derived_from_options(registry: Registry) -> None:
    (info,) = registry.catalog()
    assert info.vendor == "echo"
    assert info.options_schema["type"] == "object"
    properties = info.options_schema["properties"]
    assert properties["repeat"] == {"type": "integer", "minimum": 1, "maximum": 5, "default": 1}
    assert registry.catalog(ProviderKind.TTS) == []


def test_catalog_serializes_to_json(registry: Registry) -> None:
    decoded = msgspec.json.decode(msgspec.json.encode(registry.catalog()))
    assert decoded[0]["kind"] == "llm"
    assert decoded[0]["default_model"] == "echo-1"


async def test_build_fills_defaults_and_passes_options(registry: Registry) -> None:
    provider = registry.build("llm", ProviderConfig(vendor="echo", options={"repeat": 2}))
    assert isinstance(provider, EchoLLM)
    assert provider.config.model == "echo-1"
    out = [d async for d in provider.stream([Message("user", "hi")], "")]
    assert out == ["hi", "hi"]


def test_unknown_vendor_names_the_registered_ones(registry: Registry) -> None:
    with pytest.raises(UnknownVendor, match=r"unknown llm vendor 'nope' \(registered: echo\)"):
        registry.get(ProviderKind.LLM, "nope")
    with pytest.raises(UnknownVendor, match="unknown tts vendor 'echo'"):
        registry.build(ProviderKind.TTS, ProviderConfig(vendor="echo"))
    with pytest.raises(UnknownVendor):
        registry.get("video", "echo")


def test_unknown_vendor_is_a_non_retryable_provider_error(registry: Registry) -> None:
    with pytest.raises(ProviderError) as caught:
        registry.get(ProviderKind.LLM, "nope")
    assert caught.value.retryable is False
    assert isinstance(caught.value, LookupError)


@pytest.mark.parametrize(
    ("options", "option", "message"),
    [
        ({"repeat": "x"}, "repeat", "Expected `int`, got `str`"),
        ({"repeat": 9}, "repeat", "Expected `int` <= 5"),
        ({"colour": "red"}, "colour", "is not an option of this vendor"),
    ],
)
def test_bad_option_is_named(
    registry: Registry, options: dict[str, object], option: str, message: str
) -> None:
    with pytest.raises(InvalidOptions, match=message) as caught:
        registry.build("llm", ProviderConfig(vendor="echo", options=options))
    assert caught.value.option == option
    assert f"option {option!r}" in str(caught.value)


def test_numeric_strings_from_forms_are_accepted(registry: Registry) -> None:
    checked = registry.validate("llm", ProviderConfig(vendor="echo", options={"repeat": "3"}))
    assert checked.options == {"repeat": "3"}


def test_api_key_required_when_vendor_needs_one(registry: Registry) -> None:
    registry.add(msgspec.structs.replace(ECHO, vendor="keyed", needs_api_key=True), EchoLLM)
    with pytest.raises(ProviderConfigError, match="keyed: an API key is required"):
        registry.build("llm", ProviderConfig(vendor="keyed"))
    assert registry.build("llm", ProviderConfig(vendor="keyed", api_key="k")).config.api_key == "k"


def test_unknown_voice_rejected(registry: Registry) -> None:
    registry.add(msgspec.structs.replace(ECHO, vendor="voiced", voices=["a", "b"]), EchoLLM)
    with pytest.raises(ProviderConfigError, match="unknown voice 'c'"):
        registry.validate("llm", ProviderConfig(vendor="voiced", voice="c"))


def test_kind_mismatch_rejected_at_registration(registry: Registry) -> None:
    with pytest.raises(TypeError, match="is a llm provider, not tts"):
        registry.add(msgspec.structs.replace(ECHO, kind=ProviderKind.TTS), EchoLLM)


def test_conditional_vendor_follows_env(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    loadtest = msgspec.structs.replace(ECHO, vendor="loadtest")
    registry.add(loadtest, EchoLLM, enabled=env_flag("VOCALS_TEST_LOADTEST_VENDOR"))
    monkeypatch.delenv("VOCALS_TEST_LOADTEST_VENDOR", raising=False)
    assert [i.vendor for i in registry.catalog()] == ["echo"]
    with pytest.raises(UnknownVendor):
        registry.build("llm", ProviderConfig(vendor="loadtest"))
    monkeypatch.setenv("VOCALS_TEST_LOADTEST_VENDOR", "1")
    assert [i.vendor for i in registry.catalog()] == ["echo", "loadtest"]
    assert isinstance(registry.build("llm", ProviderConfig(vendor="loadtest")), EchoLLM)
