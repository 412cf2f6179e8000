"""What every `paperfeed` subcommand needs: settings, the database, and one way to fail.

`cli.py` and the feature command groups it adds (`digest/cli.py`) both import from here,
so neither has to import the other.
"""

from __future__ import annotations

import sys
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


def open_database(url: str) -> Database:
    """The database at `url`, migrated to the newest schema; a clear error if unreachable."""
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
