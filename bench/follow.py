"""How long until a change in the database is searchable on a node that follows it?

A node's follower (`paperfeed.search.follow`) checks the database's change counters every
`PAPERFEED_INDEX_FOLLOW_SECONDS` and syncs when they moved, so the delay for one change is
at most the interval plus one sync. This benchmark measures both parts on PostgreSQL:

1. an idle tick (nothing changed: one query and one manifest read),
2. the sync of a small change (one new paper; one hidden paper), run by a tick,
3. end to end: a follower thread running at `--interval`, a paper inserted, and the time
   until a reader (`SearchRuntime`, what a web process serves from) has it.

The database is a fresh one on the local server (dropped afterwards) holding the demo
corpus (568 papers) plus `--extra` synthetic papers. Run it from the project root:

    .venv/bin/python -m bench.follow                       # demo corpus, 20 changes
    .venv/bin/python -m bench.follow --extra 20000 --changes 50 --interval 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.models import Paper
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import lock_changes, touch_paper, upsert_papers
from paperfeed.search.follow import IndexFollower
from paperfeed.search.index import SearchIndex
from paperfeed.search.runtime import SearchRuntime

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def add_paper(db: Database, n: int) -> None:
    record = PaperRecord(
        title=f"Benchmark paper {n} on quokka ecology",
        abstract=f"A synthetic abstract number {n} about marsupials on islands.",
        arxiv_id=f"2612.{n:05d}",
        authors=["Ada Lovelace"],
        published_at=clock.now(),
        feed_at=clock.now(),
    )
    with db.transaction() as session:
        upsert_papers(session, [record])


def hide_one(db: Database, n: int) -> None:
    with db.transaction() as session:
        lock_changes(session)
        paper = session.execute(select(Paper).where(Paper.id == n)).scalar_one()
        paper.hidden_at = clock.now()
        touch_paper(session, paper)


def add_extra(db: Database, count: int) -> None:
    for start in range(0, count, 1000):
        records = [
            PaperRecord(
                title=f"Synthetic paper {n} about graphs and groups",
                abstract=f"Abstract {n}: " + "we study things and prove results. " * 20,
                arxiv_id=f"2501.{n:05d}",
                authors=["A. Author", "B. Author"],
                published_at=clock.now(),
                feed_at=clock.now(),
            )
            for n in range(start + 1, min(start + 1000, count) + 1)
        ]
        with db.transaction() as session:
            upsert_papers(session, records)


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
        f"max {ordered[-1] * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20, help="changes timed per measure")
    parser.add_argument("--interval", type=float, default=5.0, help="follow interval (s)")
    parser.add_argument("--extra", type=int, default=0, help="synthetic papers to add")
    args = parser.parse_args()

    name = f"paperfeed_bench_follow_{os.getpid()}"
    admin = create_engine(f"{SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(f"{SERVER}/{name}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                data_dir=Path(tmp), database_url=db.url, index_dir=Path(tmp) / "index"
            )
            db.upgrade()
            load_demo(db, settings.tz)
            add_extra(db, args.extra)
            started = time.perf_counter()
            SearchIndex(settings.index_dir, settings.tz).sync(db)
            built = time.perf_counter() - started
            with db.reader() as session:
                papers = session.execute(select(func.count(Paper.id))).scalar_one()
            print(f"{papers} papers; first build {built:.2f}s")
            measure(db, settings, args)
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def measure(db: Database, settings: Settings, args: argparse.Namespace) -> None:
    follower = IndexFollower(settings, db, interval=args.interval)
    idle, added, hidden = [], [], []
    for i in range(args.changes):
        started = time.perf_counter()
        assert follower.tick() == "current"
        idle.append(time.perf_counter() - started)
        add_paper(db, i + 1)
        started = time.perf_counter()
        assert follower.tick() == "synced"
        added.append(time.perf_counter() - started)
        hide_one(db, i + 1)
        started = time.perf_counter()
        assert follower.tick() == "synced"
        hidden.append(time.perf_counter() - started)
    print(f"idle tick                  {ms(idle)}")
    print(f"sync of one new paper      {ms(added)}")
    print(f"sync of one hidden paper   {ms(hidden)}")

    runtime = SearchRuntime(settings, db)
    follower.start()
    delays = []
    try:
        for i in range(args.changes):
            index = runtime.index()
            before = index.status()["papers"] if index else 0
            add_paper(db, 1000 + i)
            started = time.perf_counter()
            while True:
                index = runtime.index()
                if index is not None and index.status()["papers"] > before:
                    break
                time.sleep(0.005)
            delays.append(time.perf_counter() - started)
    finally:
        follower.stop()
    print(f"end to end, interval {args.interval:g}s  {ms(delays)}")


if __name__ == "__main__":
    main()
