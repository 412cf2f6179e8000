"""Following the change sequence: batches in order, the cursor saved with each write, so a
crash repeats a batch and never skips one, and a second run finds nothing to do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.orm import Session

from paperfeed.db import Database
from paperfeed.models import Paper
from paperfeed.papers.derived import Write, follow_changes
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers


def test_batches_resume_after_a_failure_and_a_second_run_does_nothing(db: Database) -> None:
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title=f"P{i}", abstract="a") for i in range(7)])
    seen: list[list[str]] = []
    written: list[list[str]] = []
    fail_on = {2}
    progress: list[tuple[int, int]] = []

    def step(rows: Sequence[Any]) -> Write:
        titles = [r.title for r in rows]
        seen.append(titles)
        if len(seen) in fail_on:
            raise RuntimeError("the job died here")

        def write(session: Session) -> None:
            written.append(titles)

        return write

    with pytest.raises(RuntimeError):
        follow_changes(db, "test-derived", (Paper.title,), 3, step)
    assert written == [["P0", "P1", "P2"]]  # the first batch and its cursor were kept
    fail_on.clear()

    def report(done: int, total: int) -> None:
        progress.append((done, total))

    examined = follow_changes(db, "test-derived", (Paper.title,), 3, step, report)
    assert examined == 4  # the batch that failed, then the last one
    assert written == [["P0", "P1", "P2"], ["P3", "P4", "P5"], ["P6"]]
    assert progress[-1][0] == progress[-1][1]  # done
    assert follow_changes(db, "test-derived", (Paper.title,), 3, step) == 0


def test_a_limit_stops_after_the_batch_that_reaches_it(db: Database) -> None:
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title=f"P{i}", abstract="a") for i in range(7)])

    def step(rows: Sequence[Any]) -> Write:
        return lambda session: None

    assert follow_changes(db, "test-limit", (Paper.id,), 2, step, limit=3) == 4
    assert follow_changes(db, "test-limit", (Paper.id,), 2, step) == 3
