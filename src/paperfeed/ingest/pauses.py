"""A remote service's "stop until then": a rate limit that outlasts a run's retries.

The job that met it notes the time in an `ingest_cursors` row (`source` names the job:
`github:rate-limit`, `hub:rate-limit`); every later run, on any worker, asks nothing
before it and says it is waiting. Kept in the database so several workers agree.
"""

from __future__ import annotations

from datetime import datetime

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.models import IngestCursor


def paused_until(db: Database, source: str) -> datetime | None:
    """When the pause noted for `source` ends, or None if there is none (or it ended)."""
    with db.reader() as session:
        row = session.get(IngestCursor, source)
    if row is None:
        return None
    until = datetime.fromisoformat(row.cursor)
    return until if until > clock.now() else None


def pause_until(db: Database, source: str, until: datetime) -> None:
    """Note that `source` must not be asked before `until`."""
    with db.transaction() as session:
        row = IngestCursor(
            source=source, cursor=until.isoformat(), state=None, updated_at=clock.now()
        )
        session.merge(row)
