"""Registry of provider vendors by (kind, vendor): catalog metadata and per-call construction.

A vendor module registers itself when imported (see `providers.builtin`):

    @register(VendorInfo(kind=ProviderKind.LLM, vendor="acme", display_name="Acme"),
              options=AcmeOptions)
    class AcmeLLM(LLMProvider): ...

Options are declared as a msgspec Struct: the registry derives the JSON schema the catalog
serves from it, and `build` validates an agent's options against it before constructing the
provider, so a bad option is reported by name and nothing is built.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import msgspec

from providers.base import Provider, ProviderConfig, ProviderError, ProviderKind

ProviderFactory = Callable[[ProviderConfig], Provider]
OptionsT = TypeVar("OptionsT", bound=msgspec.Struct)
FactoryT = TypeVar("FactoryT", bound=ProviderFactory)


class VendorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the catalog tells the API and UI about one vendor of one kind."""

    kind: ProviderKind
    vendor: str
    display_name: str
    description: str = ""
    models: list[str] = msgspec.field(default_factory=list)
    voices: list[str] = msgspec.field(default_factory=list)
    default_model: str | None = None
    default_voice: str | None = None
    # JSON schema of `ProviderConfig.options`; filled from the options Struct at registration.
    options_schema: dict[str, Any] = msgspec.field(default_factory=dict)
    needs_api_key: bool = False
    # Works with no account and no network (the offline defaults).
    offline: bool = False
    # STT: the PCM rate `send_audio` expects; TTS: the rate `AudioChunk`s come at.
    sample_rate: int | None = None
    # STT: whether its words are right often enough for `smart` turn detection to go by them
    # (answer a finished sentence early, wait out an unfinished one). False: `smart` waits its
    # ordinary silence, as wrong words look finished or unfinished at random.
    ends_turns_early: bool = True
    # The day the models, voices and defaults above were last checked against the vendor's
    # own documentation and SDKs (None: not yet). Vendors retire models; this says how fresh
    # the list is.
    checked: date | None = None


class ProviderConfigError(ProviderError):
    """A provider configuration is unusable; trying again cannot help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class UnknownVendor(ProviderConfigError, LookupError):
    """No vendor of that kind is registered (or it is not enabled in this process)."""

    def __init__(self, kind: ProviderKind | str, vendor: str, known: list[str]) -> None:
        listed = ", ".join(known) or "none"
        super().__init__(f"unknown {kind} vendor {vendor!r} (registered: {listed})")
        self.kind = kind
        self.vendor = vendor


class InvalidOptions(ProviderConfigError, ValueError):
    """An agent's provider options do not match the vendor's schema."""

    def __init__(self, vendor: str, detail: str, option: str | None = None) -> None:
        where = f"option {option!r} " if option else ""
        super().__init__(f"{vendor}: {where}{detail}")
        self.vendor = vendor
        self.option = option
        self.detail = detail


class _Entry(msgspec.Struct, frozen=True):
    info: VendorInfo
    factory: ProviderFactory
    options: type[msgspec.Struct] | None
    enabled: Callable[[], bool] | None


def parse_options(config: ProviderConfig, options_type: type[OptionsT]) -> OptionsT:
    """Convert `config.options` to the vendor's options Struct, or raise `InvalidOptions`."""
    try:
        return msgspec.convert(config.options, options_type, strict=False)
    except msgspec.ValidationError as exc:
        raise _invalid_options(config.vendor, exc) from exc


def _invalid_options(vendor: str, exc: msgspec.ValidationError) -> InvalidOptions:
    # msgspec messages read "Expected `int`, got `str` - at `$.max_turns`" or
    # "Object contains unknown field `colour`"; pull the option name out of either.
    message = str(exc)
    option: str | None = None
    detail = message
    if " - at `$." in message:
        detail, _, path = message.partition(" - at `$.")
        option = path.rstrip("`")
    elif "unknown field `" in message:
        option = message.split("unknown field `", 1)[1].rstrip("`")
        detail = "is not an option of this vendor"
    elif "missing required field `" in message:
        option = message.split("missing required field `", 1)[1].rstrip("`")
        detail = "is required"
    return InvalidOptions(vendor, detail, option)


def env_flag(name: str) -> Callable[[], bool]:
    """An `enabled` condition: the vendor exists only while env var `name` is set to 1/true/yes."""

    def enabled() -> bool:
        return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}

    return enabled


class Registry:
    """Vendors by (kind, vendor). The module-level functions use one process-wide instance."""

    def __init__(self) -> None:
        self._entries: dict[tuple[ProviderKind, str], _Entry] = {}

    def add(
        self,
        info: VendorInfo,
        factory: ProviderFactory,
        *,
        options: type[msgspec.Struct] | None = None,
        enabled: Callable[[], bool] | None = None,
    ) -> None:
        """Register `factory` for `info.kind`/`info.vendor`; re-registering replaces it."""
        if (
            isinstance(factory, type)
            and issubclass(factory, Provider)
            and factory.kind != info.kind
        ):
            raise TypeError(f"{factory.__name__} is a {factory.kind} provider, not {info.kind}")
        if options is not None:
            schema = _options_schema(options)
            info = msgspec.structs.replace(info, options_schema=schema)
        self._entries[(info.kind, info.vendor)] = _Entry(info, factory, options, enabled)

    def catalog(self, kind: ProviderKind | None = None) -> list[VendorInfo]:
        """Every enabled vendor (of `kind`, if given), ordered by kind then vendor."""
        return [
            entry.info
            for key, entry in sorted(self._entries.items())
            if (kind is None or key[0] == kind) and _is_enabled(entry)
        ]

    def get(self, kind: ProviderKind | str, vendor: str) -> VendorInfo:
        """The metadata of one vendor, or `UnknownVendor`."""
        return self._entry(kind, vendor).info

    def validate(self, kind: ProviderKind | str, config: ProviderConfig) -> ProviderConfig:
        """Check `config` against the vendor and return it with defaults filled in.

        Raises `UnknownVendor` or `ProviderConfigError`/`InvalidOptions`; builds nothing.
        """
        entry = self._entry(kind, config.vendor)
        info = entry.info
        if info.needs_api_key and not config.api_key:
            raise ProviderConfigError(f"{info.vendor}: an API key is required")
        if entry.options is not None:
            parse_options(config, entry.options)
        if info.voices and config.voice is not None and config.voice not in info.voices:
            raise ProviderConfigError(
                f"{info.vendor}: unknown voice {config.voice!r} (voices: {', '.join(info.voices)})"
            )
        return msgspec.structs.replace(
            config,
            model=config.model if config.model is not None else info.default_model,
            voice=config.voice if config.voice is not None else info.default_voice,
        )

    def build(self, kind: ProviderKind | str, config: ProviderConfig) -> Provider:
        """A new, not yet connected provider instance for one call."""
        checked = self.validate(kind, config)
        return self._entry(kind, config.vendor).factory(checked)

    def _entry(self, kind: ProviderKind | str, vendor: str) -> _Entry:
        try:
            key = (ProviderKind(kind), vendor)
        except ValueError:
            raise UnknownVendor(kind, vendor, []) from None
        entry = self._entries.get(key)
        if entry is None or not _is_enabled(entry):
            known = [info.vendor for info in self.catalog(key[0])]
            raise UnknownVendor(key[0], vendor, known)
        return entry


def _is_enabled(entry: _Entry) -> bool:
    return entry.enabled is None or entry.enabled()


def _options_schema(options: type[msgspec.Struct]) -> dict[str, Any]:
    """The options Struct's JSON schema with the object itself at the top level."""
    (ref,), definitions = msgspec.json.schema_components((options,))
    schema: dict[str, Any] = dict(definitions.pop(ref["$ref"].rsplit("/", 1)[-1]))
    if definitions:
        schema["$defs"] = definitions
    return schema


REGISTRY = Registry()


def register(
    info: VendorInfo,
    *,
    options: type[msgspec.Struct] | None = None,
    enabled: Callable[[], bool] | None = None,
) -> Callable[[FactoryT], FactoryT]:
    """Class decorator registering a provider class (or any factory) in the process registry."""

    def decorate(factory: FactoryT) -> FactoryT:
        REGISTRY.add(info, factory, options=options, enabled=enabled)
        return factory

    return decorate


def catalog(kind: ProviderKind | None = None) -> list[VendorInfo]:
    """Every enabled vendor in the process registry."""
    return REGISTRY.catalog(kind)


def get(kind: ProviderKind | str, vendor: str) -> VendorInfo:
    """One vendor's metadata from the process registry, or `UnknownVendor`."""
    return REGISTRY.get(kind, vendor)


def validate(kind: ProviderKind | str, config: ProviderConfig) -> ProviderConfig:
    """Check an agent's provider configuration without building anything."""
    return REGISTRY.validate(kind, config)


def build(kind: ProviderKind | str, config: ProviderConfig) -> Provider:
    """A provider instance for one call, from the process registry."""
    return REGISTRY.build(kind, config)
