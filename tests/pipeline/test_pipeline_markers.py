"""Call-control markers in streamed text."""

from __future__ import annotations

import pytest

from pipeline.markers import Marker, MarkerFilter


def run(chunks: list[str]) -> tuple[str, list[Marker]]:
    f = MarkerFilter()
    text, found = "", []
    for chunk in chunks:
        for piece in f.push(chunk):
            if isinstance(piece, Marker):
                found.append(piece)
            else:
                text += piece
    return text + f.flush(), found


def chunked(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 100])
def test_markers_split_across_chunks_are_found_and_removed(n: int) -> None:
    text, found = run(chunked("Goodbye, have a nice day! [END_CALL]", n))
    assert text == "Goodbye, have a nice day! "
    assert found == [Marker.END_CALL]


def test_voicemail_marker_and_case_insensitivity() -> None:
    text, found = run(["[voice", "mail]"])
    assert (text, found) == ("", [Marker.VOICEMAIL])


def test_text_is_not_held_longer_than_needed() -> None:
    f = MarkerFilter()
    assert f.push("Hello [") == ["Hello "]
    assert f.push("x] there") == ["[x] there"]


def test_pieces_keep_stream_order() -> None:
    f = MarkerFilter()
    assert f.push("Bye. [END_CALL] more") == ["Bye. ", Marker.END_CALL, " more"]


def test_a_lone_bracket_at_the_end_is_spoken() -> None:
    assert run(["see [", "END"]) == ("see [END", [])


def test_two_markers() -> None:
    assert run(["[VOICEMAIL][END_", "CALL]"]) == ("", [Marker.VOICEMAIL, Marker.END_CALL])
