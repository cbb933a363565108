"""Voicemail greeting, IVR and call-screening patterns and the barge-in policy."""

from __future__ import annotations

import pytest

from media.vad import BargeInSensitivity
from pipeline.answer_supervision import Answer, AnswerSupervisor, match_answering_system
from pipeline.backchannel import BACKCHANNEL_LONGEST_MS, WORDS_GRACE_MS, BackchannelBargeIn
from pipeline.bargein import BargeInPolicy, is_backchannel
from pipeline.records import CallOutcome
from pipeline.voicemail import match_voicemail_greeting


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Hi, you've reached Anna. Please leave a message after the tone.", "en"),
        ("The person you are calling is not available", "en"),
        ("Hola, ha llamado a Juan. Deje su mensaje después del tono.", "es"),
        ("Vous êtes bien sur la messagerie de Paul, laissez un message après le bip", "fr"),
        ("Bitte hinterlassen Sie eine Nachricht nach dem Signalton.", "de"),
        ("Olá, deixe sua mensagem após o sinal.", "pt"),
        ("Lasci un messaggio dopo il segnale acustico", "it"),
    ],
)
def test_voicemail_greetings_are_recognized(text: str, lang: str) -> None:
    assert match_voicemail_greeting(text) == lang


@pytest.mark.parametrize(
    "text", ["Hello, who is this?", "Yes, speaking.", "I can take a message for him, sure."]
)
def test_people_are_not_voicemail(text: str) -> None:
    assert match_voicemail_greeting(text) is None


def test_only_the_first_turns_are_checked() -> None:
    detector = AnswerSupervisor(turns=2)
    assert detector.check("hello") is None
    assert detector.check("hello") is None
    assert detector.check("please leave a message after the beep") is None
    assert detector.check("for sales, press 1") is None


@pytest.mark.parametrize(
    ("text", "system"),
    [
        ("Thank you for calling Acme. For sales, press 1. For support, press 2.", Answer.IVR),
        ("Please listen carefully as our menu options have changed.", Answer.IVR),
        ("If you know your party's extension, you may dial it at any time.", Answer.IVR),
        ("Para español, oprima dos.", Answer.IVR),
        ("Please say your name and why you are calling.", Answer.CALL_SCREENING),
        ("Hi, the person you're calling is using a screening service from Google.",
         Answer.CALL_SCREENING),
        ("Please stay on the line while I see if this person is available.",
         Answer.CALL_SCREENING),
        ("Hello, who is this?", None),
        ("Yes, speaking. What is it about?", None),
        ("Sorry, can you say your name again?", None),
    ],
)  # fmt: skip
def test_answering_systems_are_told_apart(text: str, system: Answer | None) -> None:
    assert match_answering_system(text) == system


def test_a_person_after_the_screener_makes_the_call_theirs() -> None:
    screened = AnswerSupervisor()
    assert screened.check("Please say your name and why you are calling.") is Answer.CALL_SCREENING
    assert screened.check("Please stay on the line while I see if they're available") is None
    assert screened.outcome(CallOutcome.CALLER_HUNG_UP) is CallOutcome.CALL_SCREENING
    assert screened.outcome(CallOutcome.TRANSFERRED) is CallOutcome.TRANSFERRED
    assert screened.check("Hi, this is Anna, sorry about that.") is None
    assert screened.outcome(CallOutcome.CALLER_HUNG_UP) is CallOutcome.CALLER_HUNG_UP


@pytest.mark.parametrize("text", ["mm-hm", "Yeah.", "okay", "uh-huh", "right", "Okay, yeah"])
def test_backchannels(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize("text", ["wait", "no, stop", "okay but what about Tuesday", ""])
def test_not_backchannels(text: str) -> None:
    assert not is_backchannel(text)


def test_high_sensitivity_interrupts_at_speech_onset() -> None:
    policy = BargeInPolicy(BargeInSensitivity.HIGH)
    assert policy.should_interrupt(speech_ms=0)


@pytest.mark.parametrize(
    "sensitivity",
    [BargeInSensitivity.MEDIUM, BargeInSensitivity.LOW, BargeInSensitivity.VERY_LOW],
)
def test_lower_sensitivities_let_backchannels_pass(sensitivity: BargeInSensitivity) -> None:
    policy = BargeInPolicy(sensitivity)
    assert not policy.should_interrupt(300, "")
    assert not policy.should_interrupt(500, "mm-hm")
    assert not policy.should_interrupt(500, "yeah okay")
    assert policy.should_interrupt(2000, "yeah okay")  # long speech is not a backchannel
    assert policy.should_interrupt(500, "wait no stop")


@pytest.mark.parametrize("sensitivity", [BargeInSensitivity.MEDIUM, BargeInSensitivity.LOW])
def test_backchannel_words_outweigh_speech_time(sensitivity: BargeInSensitivity) -> None:
    policy = BackchannelBargeIn(sensitivity)
    confirm_ms = policy.rule.confirm_ms
    assert not policy.should_interrupt(confirm_ms, "")  # the words are on their way
    assert policy.should_interrupt(confirm_ms + WORDS_GRACE_MS, "")
    assert not policy.should_interrupt(confirm_ms + 500, "uh-huh")
    assert policy.should_interrupt(BACKCHANNEL_LONGEST_MS, "yeah okay")
    assert policy.should_interrupt(300, "wait no stop")


def test_backchannel_words_on_a_noisy_line_never_stop_the_agent_by_time() -> None:
    policy = BackchannelBargeIn(BargeInSensitivity.MEDIUM)
    policy.noisy_line = True
    assert not policy.should_interrupt(5000, "mm-hm")
    assert policy.should_interrupt(500, "hold on")


def test_high_sensitivity_still_stops_at_onset_without_words() -> None:
    assert BackchannelBargeIn(BargeInSensitivity.HIGH).should_interrupt(speech_ms=0)
