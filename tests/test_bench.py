"""The benchmarks still run: a tiny smoke run of each (the full runs are not part of CI)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_feed_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.feed", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "p50" in result.stdout and "ratio" in result.stdout.lower()


def test_search_scale_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.search_scale", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "recall@10" in result.stdout and "full scan" in result.stdout


def test_ingest_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "bulk import" in result.stdout and "naive" in result.stdout
    assert "faster" in result.stdout


def test_digest_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.digest", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "emails/s" in result.stdout and "new connection per email" in result.stdout
    assert "composing" in result.stdout and "rerun (ledger: nothing left) | 0 |" in result.stdout


def test_summaries_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.summaries", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tokens per paper" in result.stdout and "at 2,600,000 papers" in result.stdout


def test_thumbnails_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.thumbnails", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| card webp |" in result.stdout and "baseline: full page, 150 dpi PNG" in result.stdout
    assert "disk per 1M papers" in result.stdout and "At 2,600,000 papers" in result.stdout


def test_for_you_benchmark_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.for_you", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for method in ("random", "popularity (trending)", "tf-idf SVM (arxiv-sanity-lite)"):
        assert f"| {method} |" in result.stdout
    assert "precision@10" in result.stdout and "nDCG@10" in result.stdout
    assert "coverage" in result.stdout and "ranking time at" in result.stdout
