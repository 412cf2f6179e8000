"""`paperfeed demo`: the sample site, ready to act in, on the database every command uses."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperfeed.cli_support import (
    database_location,
    fail,
    index_quietly,
    job_names,
    load_settings,
    open_database,
    report_bad_line,
)
from paperfeed.serving import listen_url, serve_site

if TYPE_CHECKING:
    from paperfeed.config import Settings
    from paperfeed.demo import DemoAccount

DEMO_JOBS = "index,keywords,digest,mail"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-serve", is_flag=True, help="Only create or update the demo database.")
@click.option(
    "--jobs",
    default=DEMO_JOBS,
    show_default=True,
    help="Worker jobs to run beside the site (as `paperfeed worker --jobs`; '' for none). "
    "harvest is left out by default: it fetches arXiv over the network.",
)
def demo(host: str, port: int, no_serve: bool, jobs: str) -> None:
    """Load the bundled sample papers into the database and serve the site as a demo.

    The first run places the sample papers on the 14 feed days before today and creates two
    accounts (demo-admin and demo-member) whose passwords it prints at every start; later
    runs find the data already loaded and start at once. It uses the same database as every
    other command, and refuses one that holds a site of its own. Mail is kept at
    /demo/outbox instead of being sent, unless PAPERFEED_MAIL_BACKEND says otherwise; the
    worker's jobs run in the background.
    """
    from paperfeed.demo import NotADemoDatabase, ensure_demo_accounts, load_demo

    wanted = job_names(jobs)
    # The demo sends no mail: messages wait at /demo/outbox (the served process inherits it).
    os.environ.setdefault("PAPERFEED_MAIL_BACKEND", "outbox")
    settings = load_settings()
    url = settings.resolved_database_url()
    where = database_location(url)
    started = time.perf_counter()
    db = open_database(url)
    try:
        stats = load_demo(db, settings.tz, report=report_bad_line, where=where)
    except NotADemoDatabase as exc:
        fail(str(exc))
    if stats is None:
        click.echo(f"Demo data already loaded ({time.perf_counter() - started:.2f}s).")
    else:
        click.echo(
            f"Demo data loaded: {stats.added} added, {stats.updated} updated, "
            f"{stats.unchanged} unchanged, {stats.skipped} skipped "
            f"({time.perf_counter() - started:.1f}s)."
        )
    accounts = ensure_demo_accounts(db)
    index_quietly(db, settings)
    db.dispose()
    click.echo(_demo_guide(where, accounts, listen_url(host, port), settings))
    if host not in LOOPBACK:
        click.secho(
            f"warning: the demo listens on {host}, so other machines can reach it. Its outbox "
            "is public, so anyone who can reach it can reset demo-admin's password from there. "
            "Serve a real site with `paperfeed serve`.",
            fg="yellow",
            err=True,
        )
    if not no_serve:
        serve_site(url, host, port, workers=1, jobs=wanted)


def _demo_guide(where: str, accounts: list[DemoAccount], site: str, settings: Settings) -> str:
    """What a newcomer needs to act at once: the accounts, the outbox, the shell commands."""
    command = _self_command()
    lines = [
        "",
        f"This is a demo site. Its data lives in {where}",
        "(the database every paperfeed command uses with these settings).",
        f"Sign in at {site}/login as:",
    ]
    for account in accounts:
        secret = account.password or "(changed on the site since the demo set it)"
        lines.append(f"  {account.username:<12} password {secret}   ({account.role})")
    if settings.mail_backend == "outbox":
        lines.append(f"Mail is not sent: read it at {site}/demo/outbox")
    lines += [
        "From another shell:",
        f"  {command} user create NAME --email NAME@example.com --role admin",
        f'  {command} search "speculative decoding"',
        f"  {command} status",
        "",
    ]
    return "\n".join(lines)


def _self_command() -> str:
    """How to run this same `paperfeed` again, with the settings this run was given."""
    import shlex
    import shutil

    argv0 = Path(sys.argv[0])
    if argv0.name == "paperfeed" and shutil.which("paperfeed") == str(argv0.resolve()):
        program = "paperfeed"
    elif argv0.name == "paperfeed" and argv0.exists():
        relative = os.path.relpath(argv0)
        program = str(argv0.resolve()) if relative.startswith("..") else relative
        program = program if "/" in program else f"./{program}"
    else:
        program = f"{shlex.quote(sys.executable)} -m paperfeed.cli"
    given = [
        f"{name}={_shown(name, os.environ[name])}"
        for name in ("PAPERFEED_DATA_DIR", "PAPERFEED_DATABASE_URL")
        if os.environ.get(name)
    ]
    return " ".join([*given, program])


def _shown(name: str, value: str) -> str:
    """The variable's value for the shell, but a database password only by the variable's
    name: what is printed ends up in scrollback and logs."""
    import shlex

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if name == "PAPERFEED_DATABASE_URL":
        try:
            secret = make_url(value).password
        except ArgumentError:
            secret = None
        if secret:
            return f'"${name}"'
    return shlex.quote(value)
