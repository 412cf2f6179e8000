"""The load benchmark still runs: a few seconds against one real node on PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL, WORKER

ROOT = Path(__file__).parents[1]


def test_load_benchmark_smoke() -> None:
    database = f"paperfeed_load_smoke_{WORKER}_{os.getpid()}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--seconds",
            "3",
            "--nodes",
            "1",
            "--concurrency",
            "4",
            "--no-embed",
            "--postgres",
            POSTGRES_URL,
            "--database",
            database,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "| kind | requests | req/s | p50 ms | p99 ms | errors |" in out
    for kind in ("healthz", "search filtered", "api search", "vote form", "vote api"):
        assert f"| {kind} |" in out, kind
    assert "Total errors: 0; consistency problems: 0" in out
    engine = create_engine(f"{POSTGRES_URL}/test")
    with engine.connect() as connection:
        left = connection.execute(
            text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": database}
        ).scalar_one()
    engine.dispose()
    assert left == 0, "the benchmark must drop its database"
