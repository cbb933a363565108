"""The `vocals loadtest` command line (registered by `vocals.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_FAILED = 1


def _steps(value: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter("a number of calls, or several separated by commas") from None
    if not steps or min(steps) < 1:
        raise typer.BadParameter("every step needs at least one call")
    return steps


def loadtest(
    calls: Annotated[
        str, typer.Option(help="Concurrent calls; several comma-separated run as steps.")
    ] = "5",
    seconds: Annotated[float, typer.Option(help="Measured seconds per step.")] = 20.0,
    ramp: Annotated[float, typer.Option(help="Seconds over which each step's calls start.")] = 5.0,
    providers: Annotated[
        str,
        typer.Option(
            help="loadtest (fixed-latency providers, the server's own capacity; the server "
            "runs with VOCALS_LOADTEST_PROVIDERS=1) or offline (the offline defaults: "
            "Whisper tiny.en, scripted, Piper, with callers speaking recorded speech)."
        ),
    ] = "loadtest",
    transport: Annotated[
        str,
        typer.Option(
            help="audiosocket or rtp (over the simulated Asterisk; the server decides which "
            "it asks for, and a mismatch is counted as an error), twilio (Media Streams) or "
            "web (browser calls: 16 kHz PCM over a WebSocket, started with a token)."
        ),
    ] = "audiosocket",
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow a server that is not on this machine.")
    ] = False,
    url: Annotated[
        str | None, typer.Option(help="The server's HTTP base URL (default from settings).")
    ] = None,
    server_pid: Annotated[
        int | None, typer.Option(help="The server's pid (default: found by its HTTP port).")
    ] = None,
    end_of_speech_ms: Annotated[int, typer.Option(help="The agent's end-of-speech silence.")] = 500,
    stt_delay_ms: Annotated[int, typer.Option(help="Load-test STT: final after.")] = 300,
    first_token_ms: Annotated[int, typer.Option(help="Load-test LLM: first token after.")] = 200,
    token_interval_ms: Annotated[int, typer.Option(help="Load-test LLM: per token.")] = 20,
    ttfb_ms: Annotated[int, typer.Option(help="Load-test TTS: first audio after.")] = 100,
    barge_in_every: Annotated[
        int, typer.Option(help="Every Nth caller turn interrupts the agent (0: never).")
    ] = 3,
    barge_in: Annotated[
        str, typer.Option(help="The agent's barge-in sensitivity (very_low ... very_high).")
    ] = "high",
    did: Annotated[str, typer.Option(help="The number the simulated callers dial.")] = (
        "+15550199000"
    ),
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML settings file (as for serve).")
    ] = None,
) -> None:
    """Measure how many concurrent calls the running server carries (run it with the same
    settings as `vocals serve`, and VOCALS_LOADTEST_PROVIDERS=1 for the load-test
    providers)."""
    import msgspec
    import uvloop

    from vocals.cli import _settings
    from vocals.loadtest.config import LoadTestConfig, ProviderLatencies
    from vocals.loadtest.measure import StepReport, format_table
    from vocals.loadtest.runner import LoadTestError, run_loadtest

    settings = _settings(config)
    try:
        test_config = msgspec.convert(
            {
                "steps": _steps(calls),
                "seconds": seconds,
                "ramp_seconds": ramp,
                "transport": transport,
                "end_of_speech_ms": end_of_speech_ms,
                "barge_in_every": barge_in_every,
                "barge_in": barge_in,
                "did": did,
                "providers": providers,
                "latencies": ProviderLatencies(
                    stt_delay_ms=stt_delay_ms,
                    first_token_ms=first_token_ms,
                    token_interval_ms=token_interval_ms,
                    ttfb_ms=ttfb_ms,
                ),
            },
            LoadTestConfig,
        )
    except (msgspec.ValidationError, ValueError) as exc:
        typer.echo(f"vocals loadtest: {exc}", err=True)
        raise typer.Exit(2) from None

    def progress(report: StepReport) -> None:
        if not json_output:
            typer.echo(f"step of {report.calls} calls done", err=True)

    try:
        result = uvloop.run(
            run_loadtest(
                settings,
                test_config,
                server_url=url,
                server_pid=server_pid,
                allow_remote=allow_remote,
                on_step=progress,
            )
        )
    except LoadTestError as exc:
        typer.echo(f"vocals loadtest: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except TimeoutError:
        typer.echo("vocals loadtest: the run exceeded its time bound", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    if json_output:
        typer.echo(msgspec.json.encode(result).decode())
        return
    cpus = result.server_cpus or "?"
    typer.echo(
        f"transport {result.transport}, {result.providers} providers; "
        f"server pid {result.server_pid or '?'} on CPUs {cpus} of {result.machine_cpus}"
    )
    typer.echo(format_table(result.steps))
