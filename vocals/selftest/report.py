"""The selftest report: figures measured from the heard audio, the state around the call, and
the verdict (what went wrong, if anything)."""

from __future__ import annotations

from typing import Any

import msgspec

from vocals.selftest.surroundings import AmiState, AriState


class Turn(msgspec.Struct, kw_only=True):
    """One caller phrase and how long after its end the agent started answering (negative:
    it began while the caller was still talking)."""

    phrase: str
    response_ms: int | None


class Limits(msgspec.Struct, kw_only=True, frozen=True):
    """What a call must show to pass."""

    min_turns: int = 3
    barge_in_max_ms: int = 1500


class Report(msgspec.Struct, kw_only=True):
    mode: str
    number: str
    ari: AriState
    ami: AmiState
    endpoints: dict[str, str]
    server: dict[str, Any]
    # The technology of the server's media channel for this call (AudioSocket, UnicastRTP).
    server_media: str | None = None
    answer_ms: int | None = None
    greeting_ms: int | None = None
    turns: list[Turn] = msgspec.field(default_factory=list)
    barge_in_ms: int | None = None
    barge_in_failure: str | None = None
    hung_up_by: str | None = None
    hangup_cause: str | None = None
    level_dbfs: float | None = None
    peak_dbfs: float | None = None
    duration_s: float | None = None
    voicemail_after_beep_ms: int | None = None
    leftover_channels: list[str] = msgspec.field(default_factory=list)
    leftover_bridges: list[str] = msgspec.field(default_factory=list)
    script_stopped: str | None = None
    saved: str | None = None
    problems: list[str] = msgspec.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(report: Report, limits: Limits) -> None:
    """Fill `report.problems`: empty when the call went as a call should."""
    problems = report.problems
    if report.ari.error:
        problems.append(f"ARI: {report.ari.error}")
    if report.answer_ms is None:
        if report.hangup_cause:
            why = f" ({report.hangup_cause}: no agent took it)"
        else:
            why = f": {report.script_stopped}" if report.script_stopped else ""
        problems.append(f"the call was never answered{why}")
        return
    if report.mode == "outbound-machine":
        after_beep = report.voicemail_after_beep_ms
        if after_beep is None:
            problems.append("the agent left no voicemail message")
        elif after_beep < 0:
            problems.append(f"the voicemail message began {-after_beep} ms before the beep")
    if report.greeting_ms is None and report.mode != "outbound-machine":
        problems.append("no greeting was heard")
    answered = sum(1 for t in report.turns if t.response_ms is not None)
    if report.mode != "outbound-machine" and answered < limits.min_turns:
        problems.append(
            f"the agent answered {answered} caller turns, fewer than {limits.min_turns}"
        )
    if report.mode != "outbound-machine":
        if report.barge_in_ms is None:
            problems.append(f"barge-in: {report.barge_in_failure or 'the caller never cut in'}")
        elif report.barge_in_ms > limits.barge_in_max_ms:
            problems.append(
                f"barge-in took {report.barge_in_ms} ms, more than {limits.barge_in_max_ms} ms"
            )
    if report.hung_up_by is None:
        problems.append("the call did not end")
    if report.leftover_channels or report.leftover_bridges:
        problems.append(
            "left over after the call: "
            + ", ".join(report.leftover_channels + [f"bridge {b}" for b in report.leftover_bridges])
        )
    if report.script_stopped and report.mode != "outbound-machine":
        problems.append(f"script stopped: {report.script_stopped}")


def _answered(response_ms: int | None) -> str:
    if response_ms is None:
        return "no answer heard"
    if response_ms < 0:
        return f"agent began answering {-response_ms} ms BEFORE the caller finished"
    return f"agent answered {response_ms} ms after"


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"


def format_text(report: Report) -> list[str]:
    """The report for a person, one finding per line."""
    ari = report.ari
    lines = [
        f"ARI        {ari.url}: Asterisk {ari.asterisk_version or '?'}; server app "
        f"'{ari.server_app}' {'registered' if ari.server_app_registered else 'NOT registered'}"
        f"; selftest app '{ari.selftest_app}'" + (f"; error: {ari.error}" if ari.error else ""),
        f"AMI        {report.ami.state}",
    ]
    registrations = ", ".join(f"{k} {v}" for k, v in report.ami.registrations.items())
    lines.append(f"trunks     registrations: {registrations or 'none'}")
    endpoints = ", ".join(f"{k} {v}" for k, v in report.endpoints.items())
    lines.append(f"           PJSIP endpoints: {endpoints or 'none'}")
    lines.append(f"server     {_server_line(report.server)}")
    media = f" (server media: {report.server_media})" if report.server_media else ""
    lines.append(f"call       {report.mode} to {report.number}{media}")
    lines.append(f"answered   {_ms(report.answer_ms)} after dialling")
    if report.answer_ms is not None and report.mode != "outbound-machine":
        lines.append(f"greeting   {_ms(report.greeting_ms)} from answer to the first agent audio")
        for turn in report.turns:
            lines.append(f"turn       '{turn.phrase}': {_answered(turn.response_ms)}")
        stopped = f"agent audio stopped {_ms(report.barge_in_ms)} after the caller cut in"
        lines.append(f"barge-in   {report.barge_in_failure or stopped}")
    if report.voicemail_after_beep_ms is not None:
        lines.append(f"voicemail  message began {report.voicemail_after_beep_ms} ms after the beep")
    level = (
        "-"
        if report.level_dbfs is None
        else f"{report.level_dbfs} dBFS RMS of speech, peak {report.peak_dbfs} dBFS"
    )
    lines.append(f"level      {level}")
    lines.append(
        f"hangup     by {report.hung_up_by or 'nobody'}"
        + (f" ({report.hangup_cause})" if report.hangup_cause else "")
        + (f" after {report.duration_s} s" if report.duration_s is not None else "")
    )
    lines.append(
        f"leftovers  {len(report.leftover_channels)} channels, "
        f"{len(report.leftover_bridges)} bridges"
    )
    if report.saved:
        lines.append(f"saved      {report.saved} (caller left, agent right)")
    lines.extend(f"PROBLEM    {p}" for p in report.problems)
    lines.append("selftest passed" if report.ok else "selftest FAILED")
    return lines


def _server_line(server: dict[str, Any]) -> str:
    """The server's /healthz in one line: its scalar fields, and whether listeners listen."""
    parts = []
    for key, value in server.items():
        if isinstance(value, dict):
            if "listening" in value:
                parts.append(f"{key} {'listening' if value['listening'] else 'NOT listening'}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)
