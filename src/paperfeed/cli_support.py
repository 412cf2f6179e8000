"""What every `paperfeed` subcommand needs: settings, the database, and one way to fail.

`cli.py` and the feature command groups it adds (`digest/cli.py`) both import from here,
so neither has to import the other.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from paperfeed.config import Settings, get_settings

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
