"""What every `paperfeed` subcommand needs: settings, the database, and one way to fail.

`cli.py` and the commands it adds (`demo_cli.py`, `digest/cli.py`) all import from here,
so none has to import another.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from paperfeed.config import Settings, get_settings
from paperfeed.plurals import noun, plural

if TYPE_CHECKING:
    from paperfeed.db import Database


def fail(message: str) -> NoReturn:
    """Print an error that says what to do next, and exit non-zero."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def load_settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's ValidationError, with every bad variable listed
        fail(f"bad configuration in PAPERFEED_* environment variables:\n{exc}")
        raise  # unreachable


def database_location(url: str) -> str:
    """Where a database lives, as a person looks for it: a file's path, else its URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


NO_DATA_ADVICE = (
    "Load the sample site with `paperfeed demo`, or papers with `paperfeed ingest arxiv` or "
    "`paperfeed import FILE`; or set PAPERFEED_DATABASE_URL to the site's database."
)


def open_database(url: str, *, must_exist: bool = False) -> Database:
    """The database at `url`, migrated to the newest schema; a clear error if unreachable.

    `must_exist`, for commands that only read: a SQLite file that is not there yet is an
    error saying where it was looked for, rather than an empty file left behind.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from paperfeed.db import Database

    parsed = make_url(url)
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if must_exist and file not in (None, "", ":memory:") and not Path(str(file)).exists():
        fail(f"there is no database at {database_location(url)} yet. {NO_DATA_ADVICE}")
    db = Database(url)
    try:
        db.upgrade()
    except OperationalError as exc:
        fail(
            f"cannot open the database at {db.engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}\nCheck PAPERFEED_DATABASE_URL and that the server is running."
        )
    return db


def report_bad_line(number: int, reason: str) -> None:
    click.echo(f"line {number}: {reason} (skipped)", err=True)


def job_names(jobs: str) -> list[str]:
    from paperfeed.jobs.worker import ORDER

    names = [n.strip() for n in jobs.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ORDER))
    if unknown:
        which = f"{noun(len(unknown), 'job')} {', '.join(unknown)}"
        fail(f"unknown {which}: choose from {', '.join(ORDER)}")
    return names


def index_quietly(db: Database, settings: Settings) -> None:
    """Bring the search index up to date, saying so only when there was work to do."""
    from paperfeed.progress import Progress
    from paperfeed.search.indexing import run_index

    started = time.perf_counter()
    try:
        stats = run_index(db, settings, progress=Progress)
    except Exception as exc:  # a missing model must not stop the site from serving
        click.secho(f"warning: search index not updated ({exc}); keyword search only", err=True)
        return
    if stats.embed.embedded or stats.sync.papers:
        click.echo(
            f"Search index: {plural(stats.embed.embedded, 'paper')} embedded, "
            f"{stats.sync.papers} indexed "
            f"({time.perf_counter() - started:.1f}s)."
        )
