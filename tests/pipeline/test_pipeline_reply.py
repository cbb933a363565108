"""From LLM deltas to what is spoken, and the marker that ends a reply."""

from __future__ import annotations

from pipeline.markers import Marker
from pipeline.reply import ReplyParser


def parse(deltas: list[str]) -> tuple[list[str], Marker | None]:
    parser = ReplyParser()
    said: list[str] = []
    for delta in deltas:
        said += parser.push(delta)
        if parser.done:
            break
    return said + parser.finish(), parser.marker


def test_end_call_ends_the_reply_after_its_sentence() -> None:
    said, marker = parse(["Thanks for calling", ". Goodbye", "! [END_", "CALL] and more text."])
    assert said == ["Thanks for calling.", "Goodbye!"]
    assert marker is Marker.END_CALL


def test_end_call_first_still_says_goodbye() -> None:
    said, marker = parse(["[END_CALL]", " Goodbye", "! Extra words. More."])
    assert said == ["Goodbye!"]
    assert marker is Marker.END_CALL


def test_voicemail_says_nothing() -> None:
    said, marker = parse(["Hello", " [VOICE", "MAIL] leave"])
    assert said == []
    assert marker is Marker.VOICEMAIL


def test_plain_reply() -> None:
    assert parse(["One. ", "Two"]) == (["One.", "Two"], None)
