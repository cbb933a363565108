"""Recognizes common voicemail greetings in what the callee says in the first turns."""

from __future__ import annotations

import re
import unicodedata

# Only the callee's first turns can be a mailbox greeting; later a human is on the line.
VOICEMAIL_DETECTION_TURNS = 2

# Patterns per language, matched on lower-case text without accents (STT output often has
# none), so "después" is written "despues".
_PATTERNS: dict[str, tuple[str, ...]] = {
    "en": (
        r"leave (?:me |us )?(?:a|your) (?:brief |short |detailed )?message",
        r"after the (?:tone|beep)",
        r"at the (?:tone|beep)",
        r"record your message",
        r"(?:is|am|are) (?:not|unable to|currently unavailable)"
        r"(?: available| come to the phone| take your call)",
        r"can(?:no|')?t (?:come to|take) (?:the phone|your call)",
        r"voice ?mail(?:box)?",
        r"mailbox (?:is full|of)",
    ),
    "es": (
        r"deje (?:su|un) mensaje",
        r"despues (?:del|de la) (?:tono|senal|pitido)",
        r"buzon de voz",
        r"no (?:esta|se encuentra) disponible",
        r"contestador",
    ),
    "fr": (
        r"laissez(?:-moi| moi)? (?:un|votre) message",
        r"apres le (?:bip|signal)(?: sonore)?",
        r"messagerie(?: vocale)?",
        r"(?:n'est|ne suis) pas disponible",
        r"repondeur",
    ),
    "de": (
        r"nachricht nach dem (?:signalton|piepton|ton)",
        r"hinterlassen sie (?:mir |uns )?(?:eine|ihre) nachricht",
        r"anrufbeantworter",
        r"(?:ist|bin) (?:zurzeit |derzeit |momentan )?nicht erreichbar",
        r"mailbox",
    ),
    "pt": (
        r"deixe (?:a sua|sua|uma) mensagem",
        r"apos o (?:sinal|bip)",
        r"caixa postal",
        r"correio de voz",
        r"nao (?:esta|se encontra|pode atender)",
    ),
    "it": (
        r"lasci(?:ate)? un messaggio",
        r"dopo il (?:segnale|bip)(?: acustico)?",
        r"segreteria(?: telefonica)?",
        r"non (?:e|sono) (?:al momento )?raggiungibile",
    ),
}

_COMPILED = {lang: re.compile("|".join(f"(?:{p})" for p in ps)) for lang, ps in _PATTERNS.items()}


def normalize(text: str) -> str:
    """Lower case, no accents, single spaces: how the patterns are written."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", stripped)


def match_voicemail_greeting(text: str) -> str | None:
    """Return the language whose voicemail greeting pattern `text` matches, or None."""
    normalized = normalize(text)
    for lang, pattern in _COMPILED.items():
        if pattern.search(normalized):
            return lang
    return None
