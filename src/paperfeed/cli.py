"""The `paperfeed` command."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from paperfeed.config import Settings, get_settings


def fail(message: str) -> None:
    """Print an error that says what to do next, and exit non-zero."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def load_settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's ValidationError, with every bad variable listed
        fail(f"bad configuration in PAPERFEED_* environment variables:\n{exc}")
        raise  # unreachable


def open_database(url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import OperationalError

    from paperfeed.db import Database

    db = Database(url)
    try:
        db.upgrade()
    except OperationalError as exc:
        fail(
            f"cannot open the database at {db.engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}\nCheck PAPERFEED_DATABASE_URL and that the server is running."
        )
    return db


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paperfeed")
def main() -> None:
    """paperfeed: a self-hosted Daily Papers.

    Settings come from PAPERFEED_* environment variables (see the README); with none
    set, data lives in a SQLite file under ~/.local/share/paperfeed.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-serve", is_flag=True, help="Only create or update the demo database.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Load the bundled sample papers into a demo database and serve the site.

    The first run places the sample papers on the 14 feed days before today; later runs
    find the data already loaded and start at once.
    """
    from paperfeed.demo import load_demo

    settings = load_settings()
    url = settings.resolved_database_url("demo.sqlite3")
    started = time.perf_counter()
    db = open_database(url)
    stats = load_demo(db, settings.tz, report=_report_bad_line)
    if stats is None:
        click.echo(f"Demo data already loaded ({time.perf_counter() - started:.2f}s).")
    else:
        click.echo(
            f"Demo data loaded: {stats.added} added, {stats.updated} updated, "
            f"{stats.unchanged} unchanged, {stats.skipped} skipped "
            f"({time.perf_counter() - started:.1f}s)."
        )
    db.dispose()
    if not no_serve:
        _serve(url, host, port, workers=1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web worker processes.",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the site (migrating the database first if needed)."""
    settings = load_settings()
    url = settings.resolved_database_url()
    open_database(url).dispose()
    _serve(url, host, port, workers)


def _serve(url: str, host: str, port: int, workers: int) -> None:
    import uvicorn

    os.environ["PAPERFEED_DATABASE_URL"] = url
    get_settings.cache_clear()
    click.echo(f"Serving on http://{host}:{port}/  (Ctrl+C to stop)")
    uvicorn.run(
        "paperfeed.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "paperfeed", "arxiv-snapshot"]),
    default="auto",
    show_default=True,
    help="Record format; auto tells arXiv snapshot lines from paperfeed lines.",
)
def import_(file: Path, fmt: str) -> None:
    """Import papers from a JSON-lines FILE (idempotent: importing twice changes nothing).

    Bad records are reported with their line number and skipped.
    """
    from paperfeed.ingest.importer import import_file

    settings = load_settings()
    db = open_database(settings.resolved_database_url())
    started = time.perf_counter()
    stats = import_file(db, file, fmt, settings.tz, report=_report_bad_line)
    elapsed = time.perf_counter() - started
    click.echo(
        f"{file.name}: {stats.added} added, {stats.updated} updated, "
        f"{stats.unchanged} unchanged, {stats.skipped} skipped in {elapsed:.1f}s"
    )
    if stats.skipped and not (stats.added or stats.updated or stats.unchanged):
        fail("no record could be imported; see the reasons above")


def _report_bad_line(number: int, reason: str) -> None:
    click.echo(f"line {number}: {reason} (skipped)", err=True)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command()
def upgrade() -> None:
    """Apply Alembic migrations up to the newest schema."""
    from paperfeed.db import current_revision

    settings = load_settings()
    database = open_database(settings.resolved_database_url())
    click.echo(f"Database schema at revision {current_revision(database.engine)}.")


if __name__ == "__main__":
    main()
