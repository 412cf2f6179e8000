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

    .venv/bin/python bench/ingest.py                      # 1,000,000 records (~10 min)
    .venv/bin/python bench/ingest.py --records 200000 --sample 20000
    .venv/bin/python bench/ingest.py --smoke              # seconds; run by the test suite
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.db import Database  # noqa: E402
from paperfeed.ingest.importer import import_file  # noqa: E402
from paperfeed.ingest.jsonl import parse_snapshot  # noqa: E402
from paperfeed.ingest.snapshot import import_snapshot  # noqa: E402
from paperfeed.papers.store import count_paper_rows, upsert_papers  # noqa: E402
from paperfeed.search.indexing import run_index  # noqa: E402

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


def run(records: int, sample: int, directory: Path) -> list[tuple[str, int, float, str]]:
    rows: list[tuple[str, int, float, str]] = []
    snapshot = directory / "snapshot.jsonl"
    started = time.perf_counter()
    size = write_snapshot(snapshot, records)
    log(f"wrote {records:,} records ({size / 1e6:,.0f} MB) in {time.perf_counter() - started:.0f}s")

    db = fresh_db(directory, "bulk")
    started = time.perf_counter()
    stats = import_snapshot(db, snapshot)
    elapsed = time.perf_counter() - started
    with db.reader() as session:
        papers = count_paper_rows(session)
    assert stats.added == records == papers, (stats, papers)
    rows.append(("bulk import (snapshot.py)", records, elapsed, "measured"))
    log(f"bulk: {records / elapsed:,.0f} records/s")

    started = time.perf_counter()
    again = import_snapshot(db, snapshot, restart=True)
    elapsed_again = time.perf_counter() - started
    assert again.unchanged == records and again.added == again.updated == 0, again
    rows.append(("re-run, all unchanged", records, elapsed_again, "measured"))

    settings = Settings(data_dir=directory, database_url=db.url)
    started = time.perf_counter()
    index = run_index(db, settings, embed=False)
    elapsed_index = time.perf_counter() - started
    assert index.sync.papers == records, index.sync
    rows.append(("keyword index (run_index, no embed)", records, elapsed_index, "measured"))
    db.dispose()

    part = directory / "sample.jsonl"
    n = min(sample, records)
    head(snapshot, part, n)
    general_db = fresh_db(directory, "general")
    started = time.perf_counter()
    general = import_file(general_db, part, "arxiv-snapshot")
    elapsed_general = time.perf_counter() - started
    assert general.added == n, general
    rows.append(("general importer (ORM, 500/txn)", n, elapsed_general, f"first {n:,} lines"))
    general_db.dispose()

    naive_db = fresh_db(directory, "naive")
    started = time.perf_counter()
    done = naive(naive_db, part)
    elapsed_naive = time.perf_counter() - started
    rows.append(("naive (1 row per transaction)", done, elapsed_naive, f"first {n:,} lines"))
    naive_db.dispose()
    return rows


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def print_table(rows: list[tuple[str, int, float, str]], records: int) -> None:
    bulk_rate = rows[0][1] / rows[0][2]
    naive_rate = rows[-1][1] / rows[-1][2]
    print()
    header = (
        f"{'method':<38} | {'records':>9} | {'seconds':>8} | {'records/s':>9} | "
        f"{f'time for {records:,}':>16} | note"
    )
    print(header)
    print("-" * len(header))
    for name, n, seconds, note in rows:
        rate = n / seconds if seconds else float("inf")
        full = records / rate
        extrapolated = "" if n == records else " (extrapolated)"
        print(
            f"{name:<38} | {n:>9,} | {seconds:>8.1f} | {rate:>9,.0f} | {full:>15.0f}s | "
            f"{note}{extrapolated}"
        )
    print()
    print(f"bulk vs naive ratio: {bulk_rate / naive_rate:.1f}x faster")


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
