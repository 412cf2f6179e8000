"""How fast does arXiv's bulk metadata snapshot go into SQLite?

The benchmark writes a synthetic snapshot in the real shape (one JSON object per line with
`id, submitter, authors, title, comments, journal-ref, doi, report-no, categories, license,
abstract, versions, update_date, authors_parsed`), built from the 200 real records of
src/paperfeed/data/arxiv_snapshot_sample.jsonl with fresh ids and varied words, then
measures, each into a fresh migrated SQLite database:

- **bulk**: `paperfeed.ingest.snapshot.import_snapshot`, end to end (read, parse, write,
  checkpoint per chunk), over the whole file;
- **re-run**: the same file again (everything unchanged, nothing written);
- **general importer**: `paperfeed import`'s ORM path (500 records per transaction), on a
  sample of the file, extrapolated;
- **naive**: one `upsert_papers` call and one transaction per record, on a sample,
  extrapolated (the baseline);
- **index**: making the result keyword-searchable (`run_index(embed=False)`: the tantivy
  index over title, authors and abstract).

Run it from the project root:

    .venv/bin/python -m bench.ingest                      # 1,000,000 records (~10 min)
    .venv/bin/python -m bench.ingest --records 200000 --sample 20000
    .venv/bin/python -m bench.ingest --smoke              # seconds; run by the test suite
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.importer import import_file
from paperfeed.ingest.jsonl import parse_snapshot
from paperfeed.ingest.snapshot import import_snapshot
from paperfeed.papers.store import count_paper_rows, upsert_papers
from paperfeed.search.indexing import run_index

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "paperfeed" / "data" / "arxiv_snapshot_sample.jsonl"
# A small vocabulary mixed into every title and abstract so no two records are alike.
WORDS = "quantum graph neural sparse lattice spectral bayesian entropy manifold kernel galaxy"

VOCABULARY = WORDS.split(" ")


def write_snapshot(path: Path, n: int, seed: int = 7) -> int:
    """N records in the snapshot's shape; returns the file's size in bytes."""
    rng = random.Random(seed)
    templates = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            obj = dict(templates[i % len(templates)])
            yymm = f"{7 + (i // 900_000) % 19:02d}{1 + (i // 75_000) % 12:02d}"
            obj["id"] = f"{yymm}.{i % 75_000 + 1:05d}"
            extra = " ".join(rng.choices(VOCABULARY, k=3))
            obj["title"] = f"{obj['title']} {extra} {i}"
            obj["abstract"] = f"{obj['abstract']} {' '.join(rng.choices(VOCABULARY, k=12))}\n"
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return path.stat().st_size


def fresh_db(directory: Path, name: str) -> Database:
    db = Database(f"sqlite:///{directory / name}.sqlite3")
    db.upgrade()
    return db


def head(path: Path, target: Path, n: int) -> None:
    with path.open("rb") as src, target.open("wb") as out:
        for i, line in enumerate(src):
            if i >= n:
                break
            out.write(line)


def naive(db: Database, path: Path) -> int:
    """The baseline: one ORM upsert and one transaction per record."""
    count = 0
    with path.open("rb") as stream:
        for line in stream:
            record = parse_snapshot(json.loads(line))
            with db.transaction() as session:
                upsert_papers(session, [record])
            count += 1
    return count


class Timer:
    """Wall-clock and this process's CPU seconds: on a shared machine the CPU time tells
    what the code costs, the wall time what this run happened to get."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


Row = tuple[str, int, float, float, str]


def run(records: int, sample: int, directory: Path) -> list[Row]:
    rows: list[Row] = []
    snapshot = directory / "snapshot.jsonl"
    started = time.perf_counter()
    size = write_snapshot(snapshot, records)
    log(f"wrote {records:,} records ({size / 1e6:,.0f} MB) in {time.perf_counter() - started:.0f}s")

    db = fresh_db(directory, "bulk")
    with Timer() as bulk:
        stats = import_snapshot(db, snapshot)
    with db.reader() as session:
        papers = count_paper_rows(session)
    assert stats.added == records == papers, (stats, papers)
    rows.append(("bulk import (snapshot.py)", records, bulk.wall, bulk.cpu, "measured"))
    log(f"bulk: {records / bulk.wall:,.0f} records/s ({records / bulk.cpu:,.0f}/CPU-s)")

    with Timer() as rerun:
        again = import_snapshot(db, snapshot, restart=True)
    assert again.unchanged == records and again.added == again.updated == 0, again
    rows.append(("re-run, all unchanged", records, rerun.wall, rerun.cpu, "measured"))

    settings = Settings(data_dir=directory, database_url=db.url)
    with Timer() as indexing:
        index = run_index(db, settings, embed=False)
    assert index.sync.papers == records, index.sync
    rows.append(
        ("keyword index (run_index, no embed)", records, indexing.wall, indexing.cpu, "measured")
    )
    db.dispose()

    part = directory / "sample.jsonl"
    n = min(sample, records)
    head(snapshot, part, n)
    general_db = fresh_db(directory, "general")
    with Timer() as general_time:
        general = import_file(general_db, part, "arxiv-snapshot")
    assert general.added == n, general
    rows.append(
        (
            "general importer (ORM, 500/txn)",
            n,
            general_time.wall,
            general_time.cpu,
            f"first {n:,} lines",
        )
    )
    general_db.dispose()

    naive_db = fresh_db(directory, "naive")
    with Timer() as naive_time:
        done = naive(naive_db, part)
    rows.append(
        (
            "naive (1 row per transaction)",
            done,
            naive_time.wall,
            naive_time.cpu,
            f"first {n:,} lines",
        )
    )
    naive_db.dispose()
    return rows


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def print_table(rows: list[Row], records: int) -> None:
    print()
    header = (
        f"{'method':<36} | {'records':>9} | {'wall s':>7} | {'CPU s':>7} | {'rec/s':>7} | "
        f"{'rec/CPU-s':>9} | {f'wall for {records:,}':>16} | note"
    )
    print(header)
    print("-" * len(header))
    for name, n, wall, cpu, note in rows:
        full = records * wall / n
        extrapolated = "" if n == records else " (extrapolated)"
        print(
            f"{name:<36} | {n:>9,} | {wall:>7.1f} | {cpu:>7.1f} | {n / wall:>7,.0f} | "
            f"{n / cpu:>9,.0f} | {full:>15,.0f}s | {note}{extrapolated}"
        )
    print()
    bulk, naive_row = rows[0], rows[-1]
    print(
        f"bulk vs naive: {(bulk[1] / bulk[2]) / (naive_row[1] / naive_row[2]):.1f}x faster "
        f"(wall), {(bulk[1] / bulk[3]) / (naive_row[1] / naive_row[3]):.1f}x (CPU)"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="synthetic records")
    parser.add_argument("--sample", type=int, default=20_000, help="records for the slow methods")
    parser.add_argument("--smoke", action="store_true", help="a tiny run for the test suite")
    parser.add_argument("--dir", type=Path, help="work here (kept) instead of a temp dir")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.smoke:
        args.records, args.sample = 3000, 300
    directory = args.dir or Path(tempfile.mkdtemp(prefix="pf-ingest-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        rows = run(args.records, args.sample, directory)
    finally:
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)
    print_table(rows, args.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
