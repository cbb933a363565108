"""The `vocals selftest` command line (registered by `vocals.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2
OUTBOUND_KINDS = ("human", "machine")
# The dialplan line a user adds so that outbound test calls come back into selftest.
OUTBOUND_DIALPLAN = "[vocals-selftest] exten => _[+0-9].,1,Stasis(<VOCALS_ARI_APP>-selftest)"


def selftest(
    number: Annotated[
        str | None,
        typer.Option(
            help="The number an agent answers (default: the first number routed to an agent)."
        ),
    ] = None,
    context: Annotated[
        str, typer.Option(help="The inbound dialplan context the test call is dialled into.")
    ] = "vocals-inbound",
    outbound: Annotated[
        str | None,
        typer.Option(
            help="Test an outbound call instead: the server dials NUMBER (POST /api/v1/calls) "
            "and selftest answers it as a 'human' or as an answering 'machine' (greeting and "
            "beep). Asterisk must route NUMBER back to selftest's app, e.g. a trunk whose "
            "context is " + OUTBOUND_DIALPLAN,
        ),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(help="The server's API base URL (for --outbound).")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help="An API key of the tenant (for --outbound).", envvar="VOCALS_API_KEY"),
    ] = None,
    agent_id: Annotated[
        str | None, typer.Option(help="The agent that dials (--outbound; default: the first).")
    ] = None,
    trunk_id: Annotated[
        str | None,
        typer.Option(
            help="The trunk the server dials out on (--outbound; needed with two or more)."
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="The running server's HTTP base URL, for its /healthz.")
    ] = None,
    listen_host: Annotated[
        str | None,
        typer.Option(
            help="Where selftest's AudioSocket listens (default VOCALS_AUDIOSOCKET_HOST; "
            "Asterisk connects to VOCALS_AUDIOSOCKET_ADVERTISE_HOST or this)."
        ),
    ] = None,
    min_turns: Annotated[int, typer.Option(help="Caller turns the agent must answer.")] = 3,
    barge_in_max_ms: Annotated[
        int, typer.Option(help="The agent must stop talking this soon after the caller cuts in.")
    ] = 1500,
    save: Annotated[
        Path | None, typer.Option(help="Write the call as a stereo WAV (caller left, agent right).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML settings file (as for serve).")
    ] = None,
) -> None:
    """Place a real test call through the configured Asterisk into the running `vocals serve`:
    a short caller script with one interruption; prints greeting latency, response per turn,
    barge-in reaction, who hung up, the level heard, leftovers, ARI/AMI state and trunk
    registrations. Exit status 0 only when the call went as a call should."""
    import msgspec
    import uvloop

    from ari_app.errors import AriError
    from vocals.cli import _settings
    from vocals.logs import configure_logging
    from vocals.selftest.report import Limits, format_text
    from vocals.selftest.run import SelftestError, SelftestOptions, run_selftest

    if outbound is not None and outbound not in OUTBOUND_KINDS:
        raise typer.BadParameter("human or machine", param_hint="--outbound")
    settings = _settings(config)
    if settings.log_level == "info":
        configure_logging("warning", settings.log_format)  # the report is the output
    options = SelftestOptions(
        number=number,
        context=context,
        outbound=outbound,
        api_url=api_url or url,
        api_key=api_key,
        agent_id=agent_id,
        trunk_id=trunk_id,
        server_url=url,
        listen_host=listen_host,
        save=save,
        limits=Limits(min_turns=min_turns, barge_in_max_ms=barge_in_max_ms),
    )
    try:
        report = uvloop.run(run_selftest(settings, options))
    except (SelftestError, AriError, OSError) as exc:
        typer.echo(f"vocals selftest: {exc}", err=True)
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    if json_output:
        typer.echo(msgspec.json.encode({**msgspec.to_builtins(report), "ok": report.ok}).decode())
    else:
        for line in format_text(report):
            typer.echo(line)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
