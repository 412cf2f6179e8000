"""Derived data that follows the change sequence: keywords, code links, and what comes next.

Such a job walks the papers changed since its saved cursor (`papers.change_seq`), a batch
at a time. `follow_changes` holds the walk once: each batch is read, handed to the job's
`step`, which compares and computes outside any transaction and returns its write; the
write runs in one transaction with the cursor's new position, so a crash repeats a batch
and never skips one, and a second run finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.models import IngestCursor, Paper
from paperfeed.papers.store import current_change_seq

Progress = Callable[[int, int], None]  # (done, total) in change sequence numbers
Write = Callable[[Session], None]
Step = Callable[[Sequence[Any]], Write]  # rows of the batch -> its write


def follow_changes(
    db: Database,
    cursor: str,
    columns: Sequence[InstrumentedAttribute[Any]],
    batch: int,
    step: Step,
    progress: Progress | None = None,
    limit: int | None = None,
) -> int:
    """Walk the papers changed since `cursor`'s position (`columns` of each, and its
    `change_seq`), `batch` at a time, until none is left or `limit` papers were examined.
    Returns how many papers were examined."""
    with db.reader() as session:
        row = session.get(IngestCursor, cursor)
        start = int(row.cursor) if row else 0
        target = current_change_seq(session)[0]
    done_seq, examined = start, 0
    while True:
        with db.reader() as session:
            papers = session.execute(
                select(*columns, Paper.change_seq)
                .where(Paper.change_seq > done_seq)
                .order_by(Paper.change_seq)
                .limit(batch)
            ).all()
        if not papers:
            break
        write = step(papers)
        with db.transaction() as session:
            write(session)
            done_seq = papers[-1].change_seq
            session.merge(
                IngestCursor(
                    source=cursor, cursor=str(done_seq), state=None, updated_at=clock.now()
                )
            )
        examined += len(papers)
        if progress:
            progress(done_seq - start, max(target - start, done_seq - start))
        if limit is not None and examined >= limit:
            break
    return examined
