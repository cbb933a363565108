"""What callers of an agent are expected to say, as phrases for the recognizer's agent model.

From a scripted flow: the words its intents listen for (the alternatives in their patterns,
named slots' values included), its answers with the variables filled in (callers echo
them: "tomorrow morning", the business's name) and the things any caller says on a phone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from providers.base import ProviderConfig
from providers.llm.scripted import Intent, ScriptedOptions
from providers.registry import parse_options

# What callers say to any business on the phone, whatever the agent is for.
CALLER_CARRIERS = (
    "hi",
    "hello",
    "hi there",
    "good morning",
    "good afternoon",
    "yes",
    "yes please",
    "yeah",
    "no",
    "no thanks",
    "okay",
    "sure",
    "thank you",
    "thanks",
    "thank you very much",
    "goodbye",
    "bye bye",
    "sorry",
    "please",
    "i would like to",
    "i'd like to",
    "can i",
    "could i",
    "can you tell me",
    "could you tell me",
    "do you",
    "are you",
    "what are your",
    "what is your",
    "what time",
    "when do you",
    "how much is it",
    "how much does it cost",
    "where are you",
    "i want to",
    "i need to",
    "that's all",
    "that's it",
    "nothing else",
)

# Runs of capitalized words in a prompt: the names of the business, people and places.
_NAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)*")
_SLOT = re.compile(r"\{(\w+)\}")
_GROUP_NAME = re.compile(r"\(\?P<\w+>", re.IGNORECASE)
_REGEX_CLASS = re.compile(r"\\[bBwWsSdD]")
_WORD_RUN = re.compile(r"[a-z][a-z' ]*[a-z]|[a-z]")


def pattern_phrases(pattern: str) -> list[str]:
    """The literal phrases a pattern's alternatives spell: `\\b(good ?bye|bye)\\b` gives
    "good bye" and "bye"."""
    text = _REGEX_CLASS.sub(" ", _GROUP_NAME.sub("(", pattern.lower()))
    text = re.sub(r"[?*+]", "", text).replace(",", " ")
    phrases = []
    for alternative in re.split(r"[|()^$\[\]]", text):
        phrases += [" ".join(run.split()) for run in _WORD_RUN.findall(alternative)]
    return [p for p in phrases if p]


def flow_phrases(intents: Iterable[Intent], variables: dict[str, str]) -> list[str]:
    """The phrases of a scripted flow, with the generic caller's."""
    phrases = list(CALLER_CARRIERS)
    for intent in intents:
        for pattern in intent.patterns:
            phrases += pattern_phrases(pattern)
        for response in intent.responses:
            phrases.append(_SLOT.sub(lambda m: variables.get(m.group(1), " "), response))
    phrases += variables.values()
    return list(dict.fromkeys(phrases))


def agent_phrases(llm: ProviderConfig, *prompts: str) -> list[str]:
    """The phrases of an agent: its scripted flow's (when its LLM is scripted), else the
    generic caller's, with the names in its prompts (system prompt, welcome message)."""
    if llm.vendor == "scripted":
        flow = parse_options(llm, ScriptedOptions)
        phrases = flow_phrases(flow.intents, flow.variables)
    else:
        phrases = list(CALLER_CARRIERS)
    for prompt in prompts:
        phrases += _NAME.findall(prompt)
    return list(dict.fromkeys(phrases))


# Recognizers that take the phrases an agent expects to hear as their `phrases` option.
PHRASE_VENDORS = frozenset({"pocketsphinx"})


def with_agent_phrases(stt: ProviderConfig, llm: ProviderConfig, *prompts: str) -> ProviderConfig:
    """`stt` with the agent's phrases, for a recognizer that takes them and was given none."""
    if stt.vendor not in PHRASE_VENDORS or "phrases" in stt.options:
        return stt
    options = {**stt.options, "phrases": agent_phrases(llm, *prompts)}
    return msgspec.structs.replace(stt, options=options)
