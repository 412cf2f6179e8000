"""Shared fixtures: real SQLite and real PostgreSQL, the sample corpus, a fixed clock.

Every test that takes `db` or `sample_db` runs once per backend. PostgreSQL is the local
server (PAPERFEED_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432);
the suite creates its own databases there and fails loudly if the server is missing.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.models import Base

pytest_plugins = ["tests.search.fixtures", "tests.servers"]

# A Friday afternoon in New York: the demo anchor day is 2026-11-20, and its feed days are
# 2026-11-06 .. 2026-11-19.
FIXED_NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgresql"]
POSTGRES_URL = os.environ.get(
    "PAPERFEED_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[datetime]:
    with clock.frozen(FIXED_NOW):
        yield FIXED_NOW


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A folder of files that tests only read, built once per run: the xdist workers of a run
    share it (the first to ask builds it, the others wait on a lock), so none repeats the
    work. A test that changes such files must copy them first."""
    root = tmp_path_factory.getbasetemp()
    if WORKER != "main":
        root = root.parent  # the run's folder, above each worker's own
    folder = root / name
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


def make_settings(tmp: Path, url: str) -> Settings:
    # No index follower: a test controls when its index is built (tests/web/test_nodes.py
    # turns it on).
    return Settings(
        data_dir=tmp, database_url=url, secret_key="test-secret", index_follow_seconds=0
    )


SESSION_DATABASES: list[str] = []


def _admin():  # type: ignore[no-untyped-def]
    return create_engine(f"{POSTGRES_URL}/test", isolation_level="AUTOCOMMIT")


def _drop(connection, name: str) -> None:  # type: ignore[no-untyped-def]
    connection.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )
    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


def postgres_database(name: str) -> str:
    """Create a database for this test session on the local server and return its URL.

    Names carry the process id, so test runs side by side never share a database; the
    session drops its databases at the end, and those of runs that died are swept here.
    """
    name = f"{name}_{os.getpid()}"
    admin = _admin()
    with admin.connect() as connection:
        stale = connection.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'paperfeed_test_%'")
        ).scalars()
        for old in list(stale):
            pid = old.rsplit("_", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
                _drop(connection, old)
        _drop(connection, name)
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    SESSION_DATABASES.append(name)
    return f"{POSTGRES_URL}/{name}"


@pytest.fixture(scope="session", autouse=True)
def drop_session_databases() -> Iterator[None]:
    yield
    if SESSION_DATABASES:
        from sqlalchemy.orm import close_all_sessions

        close_all_sessions()
        admin = _admin()
        with admin.connect() as connection:
            for name in SESSION_DATABASES:
                _drop(connection, name)
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def own_database_url(backend: str, tmp_path: Path, name: str) -> str:
    """A fresh, empty database for one test alone (one that migrates down and up again)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
    return postgres_database(f"paperfeed_test_{name}_{WORKER}")


@pytest.fixture(scope="session")
def migrated_template(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database per backend, created once per session."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        url = f"sqlite:///{path}"
    else:
        url = postgres_database(f"paperfeed_test_empty_{WORKER}")
    database = Database(url)
    database.upgrade()
    database.dispose()
    yield url


def _truncate_all(database: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "counters")
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(text("UPDATE counters SET value = 0"))


@pytest.fixture
def db(backend: str, migrated_template: str, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated database of each backend, private to the test."""
    if backend == "sqlite":
        source = Path(migrated_template.split("///", 1)[1])
        target = tmp_path / "test.sqlite3"
        shutil.copy(source, target)
        database = Database(f"sqlite:///{target}")
    else:
        database = Database(migrated_template)
        _truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def sample_db(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The demo corpus loaded at FIXED_NOW, shared by read-only tests. Do not write to it."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'sample.sqlite3'}"
    else:
        url = postgres_database(f"paperfeed_test_sample_{WORKER}")
    database = Database(url)
    database.upgrade()
    settings = make_settings(tmp_path_factory.mktemp("settings"), url)
    with clock.frozen(FIXED_NOW):
        load_demo(database, settings.tz)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    return make_settings(tmp_path, db.url)
