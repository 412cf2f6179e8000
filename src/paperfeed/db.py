"""Engines, sessions and migrations: the only place that knows which backend is in use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, inspect, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from paperfeed.config import normalize_database_url

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT_SECONDS = 10
# A pooled connection to a server that stops answering (a network split drops packets and
# closes nothing) would block forever, pre-ping included: connect_timeout covers only new
# connections. The kernel gives up on the socket instead: keepalive probes find an idle
# connection dead after about 5 + 3 * 2 s, and tcp_user_timeout (ms) ends one whose sent
# data stays unacknowledged for 10 s; the query then fails as an outage (503). Parameters
# in the database URL win over these.
LIBPQ_DEFAULTS: dict[str, int] = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # A node must outlive a database restart: test each pooled connection before use (a
    # dead one is replaced; a disconnect error also empties the pool), and give up on an
    # unreachable server quickly, so requests answer 503 at once instead of hanging.
    kwargs.setdefault("pool_pre_ping", True)
    in_url = make_url(url).query
    connect_args = dict(kwargs.pop("connect_args", {}))
    for name, value in LIBPQ_DEFAULTS.items():
        if name not in in_url:
            connect_args.setdefault(name, value)
    kwargs["connect_args"] = connect_args
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself so writers take the lock up front (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE avoids the deadlock-prone read-then-upgrade of a deferred transaction when
    # two processes write at once; readers are never blocked in WAL mode.
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write(connection) else "BEGIN")


def _wants_write(connection: Any) -> bool:
    return bool(connection.get_execution_options().get("sqlite_write", True))


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def insert_on_conflict(session: Session) -> Callable[[Any], PostgresInsert | SqliteInsert]:
    """The `insert` of the session's backend: both offer ON CONFLICT DO NOTHING / UPDATE."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgres_insert

        return postgres_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def rows_matched(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched: its result is a CursorResult, which
    counts them, though `Session.execute` is typed as returning a plain Result."""
    return cast(CursorResult[Any], result).rowcount


class Database:
    """An engine plus a session factory; one per process, shared by requests."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalize_database_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(sqlite_write=False), expire_on_commit=False
        )

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session (on SQLite it does not take the write lock).

        Closing it rolls back. If the server died after the reads, there is nothing left to
        undo and the pool has already discarded the connection, so that failure is dropped
        rather than failing a page whose data was read (or already sent).
        """
        session = self._readers()
        try:
            yield session
        finally:
            try:
                session.close()
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise

    def upgrade(self) -> None:
        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (Alembic)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table("papers")


# Errors that mean "cannot reach or use the database right now", not a bug in a query:
# refused or dropped connections, a server shutting down or starting up, no free pool slot.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)
# SQLite reports some bugs (a query against a missing table) as operational errors too.
SCHEMA_BUGS = ("no such table", "no such column", "syntax error")


def is_outage(exc: BaseException) -> bool:
    """True for errors a retry can cure once the database is reachable again."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OUTAGE_ERRORS):
        return False
    return not any(bug in str(exc) for bug in SCHEMA_BUGS)
