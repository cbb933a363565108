"""The `vocals` command."""

from __future__ import annotations

import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvloop

from provisioning.validation import InvalidTrunkError
from vocals.admin import (
    AdminError,
    create_tenant,
    create_user,
    render_trunks,
    rotate_key,
    run_migrations,
)
from vocals.doctor import run_doctor
from vocals.loadtest.command import loadtest
from vocals.logs import configure_logging
from vocals.selftest.command import selftest
from vocals.settings import Settings, SettingsError, load_settings

T = TypeVar("T")
EXIT_BAD_SETTING = 2

app = typer.Typer(
    help="Vocals: AI voice agents on real phone lines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
admin_app = typer.Typer(help="Tenants, users and the secret key.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
trunks_app = typer.Typer(help="SIP trunks provisioned into Asterisk.", no_args_is_help=True)
app.add_typer(trunks_app, name="trunks")
providers_app = typer.Typer(help="STT, LLM and TTS vendors and their keys.", no_args_is_help=True)
app.add_typer(providers_app, name="providers")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (VOCALS_* variables override it)."),
]


def _settings(config: Path | None) -> Settings:
    try:
        settings = load_settings(config_file=config)
    except SettingsError as exc:
        typer.echo(f"vocals: invalid setting {exc.variable}: {exc.reason}", err=True)
        raise typer.Exit(EXIT_BAD_SETTING) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return uvloop.run(coro)
    except AdminError as exc:
        typer.echo(f"vocals: {exc}", err=True)
        raise typer.Exit(1) from None
    except (OSError, ConnectionError) as exc:
        typer.echo(f"vocals: {exc}. Run `vocals doctor` to see what is missing.", err=True)
        raise typer.Exit(1) from None


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the API, call control and media listeners until SIGTERM (then drain live calls)."""
    from vocals.limits import raise_open_files_limit
    from vocals.serve import serve as run_server

    settings = _settings(config)
    raise_open_files_limit()
    _run(run_server(settings))


@app.command()
def demo(config: ConfigOption = None) -> None:
    """Place a real demo call through the whole pipeline on the offline defaults."""
    from vocals.demo import DemoFailed, run_demo

    try:
        status = _run(run_demo(_settings(config)))
    except DemoFailed as exc:
        typer.echo(f"vocals demo: {exc}", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(status)


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Apply pending database migrations (also done by `serve` at start)."""
    settings = _settings(config)
    applied, services = _run(run_migrations(settings))
    for line in services.describe():
        typer.echo(line)
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "none pending"
    typer.echo(f"migrations applied: {names}")


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check PostgreSQL, Redis, ARI and providers: one line each, with how to fix what fails."""
    settings = _settings(config)
    checks = _run(run_doctor(settings))
    for check in checks:
        typer.echo(check.line())
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


@admin_app.command("create-tenant")
def admin_create_tenant(
    name: Annotated[str, typer.Argument(help="The tenant's unique name.")],
    config: ConfigOption = None,
) -> None:
    """Create a tenant."""
    tenant = _run(create_tenant(_settings(config), name))
    typer.echo(f"created tenant {tenant.name} ({tenant.id})")


@admin_app.command("create-user")
def admin_create_user(
    tenant: Annotated[str, typer.Option(help="Name of the tenant the user belongs to.")],
    email: Annotated[str, typer.Option(help="Login e-mail address.")],
    password: Annotated[
        str, typer.Option(help="At least 10 characters.", prompt=True, hide_input=True)
    ],
    role: Annotated[str, typer.Option(help="owner, admin or viewer.")] = "admin",
    config: ConfigOption = None,
) -> None:
    """Create a user who can log in to the admin UI and API."""
    user = _run(create_user(_settings(config), tenant, email, password, role))
    typer.echo(f"created {user.role} {user.email} ({user.id})")


@admin_app.command("rotate-key")
def admin_rotate_key(config: ConfigOption = None) -> None:
    """Re-encrypt stored secrets under VOCALS_SECRET_KEY.

    Put the old key in VOCALS_PREVIOUS_SECRET_KEYS (comma-separated) so it can still decrypt.
    """
    count = _run(rotate_key(_settings(config)))
    typer.echo(f"re-encrypted {count} secret(s) under the current key")


@trunks_app.command("render")
def trunks_render(
    config: ConfigOption = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print trunk passwords instead of ****.")
    ] = False,
) -> None:
    """Print the PJSIP and dialplan files that provisioning would write, without writing them."""
    settings = _settings(config)
    try:
        files = _run(render_trunks(settings, show_secrets=show_secrets))
    except InvalidTrunkError as exc:
        typer.echo(f"vocals: stored trunks do not render: {exc}", err=True)
        raise typer.Exit(1) from None
    for name, text in files.items():
        typer.echo(f"; ==== {name} ====")
        typer.echo(text)


@providers_app.command("check")
def providers_check(
    tenant: Annotated[str, typer.Option(help="Name of the tenant whose providers to check.")],
    config: ConfigOption = None,
) -> None:
    """Make one minimal real request per configured provider with its key; say what works."""
    from vocals.provider_check import check_providers

    checks = _run(check_providers(_settings(config), tenant))
    for check in checks:
        typer.echo(check.line())
    if not checks:
        typer.echo(f"tenant {tenant} has no providers configured")
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


app.command("loadtest")(loadtest)
app.command("selftest")(selftest)


def main() -> None:
    """Entry point of the `vocals` console script."""
    sys.exit(app())
