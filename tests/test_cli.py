"""The `paperfeed` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from paperfeed.db import Database
from paperfeed.models import Paper

GOOD = {"title": "A good paper", "abstract": "It works.", "authors": ["Ada"], "upvotes": 3}


def run(
    args: list[str], env_extra: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra, "PAPERFEED_CLOCK": "2026-11-20T20:00:00Z"}
    result = subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def env(tmp_path: Path, db: Database) -> dict[str, str]:
    return {"PAPERFEED_DATA_DIR": str(tmp_path), "PAPERFEED_DATABASE_URL": db.url}


def test_import_reports_bad_lines_and_keeps_going(tmp_path: Path, env, db: Database) -> None:
    source = tmp_path / "papers.jsonl"
    source.write_bytes(
        b"\n".join(
            [
                json.dumps(GOOD).encode(),
                b'{"title": "broken"',
                json.dumps({"title": "no abstract"}).encode(),
                b'{"title": "caf\xe9", "abstract": "latin-1"}',
                json.dumps({**GOOD, "title": "Another", "published": "2024-05-17"}).encode(),
            ]
        )
    )
    result = run(["import", str(source)], env)
    assert "line 2: not valid JSON" in result.stderr
    assert "line 3: missing abstract" in result.stderr
    assert "line 4: not valid UTF-8" in result.stderr
    assert "2 added, 0 updated, 0 unchanged, 3 skipped" in result.stdout
    again = run(["import", str(source)], env)
    assert "0 added, 0 updated, 2 unchanged, 3 skipped" in again.stdout
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == 2


def test_import_of_nothing_valid_fails(tmp_path: Path, env) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text("not json\n")
    result = run(["import", str(source)], env, check=False)
    assert result.returncode == 1
    assert "no record could be imported" in result.stderr


def test_import_of_a_missing_file_says_so(env) -> None:
    result = run(["import", "/nonexistent.jsonl"], env, check=False)
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_import_reads_the_arxiv_snapshot(env, db: Database) -> None:
    snapshot = (
        Path(__file__).parents[1] / "src" / "paperfeed" / "data" / "arxiv_snapshot_sample.jsonl"
    )
    result = run(["import", "--format", "arxiv-snapshot", str(snapshot)], env)
    assert "200 added" in result.stdout
    with db.reader() as session:
        assert session.get(Paper, 1).public_id == "0704.0001"


def test_demo_is_fast_and_changes_nothing_the_second_time(tmp_path: Path) -> None:
    env = {"PAPERFEED_DATA_DIR": str(tmp_path)}
    first = run(["demo", "--no-serve"], env)
    assert "Demo data loaded: 568 added" in first.stdout
    assert (tmp_path / "demo.sqlite3").exists()
    started = time.perf_counter()
    second = run(["demo", "--no-serve"], env)
    assert "already loaded" in second.stdout
    assert time.perf_counter() - started < 10


def test_db_upgrade_reports_the_revision(env) -> None:
    assert "revision" in run(["db", "upgrade"], env).stdout


def test_a_bad_database_url_gives_advice_not_a_traceback(tmp_path: Path) -> None:
    env = {
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    result = run(["db", "upgrade"], env, check=False)
    assert result.returncode == 1
    assert "cannot open the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_are_reported(tmp_path: Path) -> None:
    env = {"PAPERFEED_DATA_DIR": str(tmp_path), "PAPERFEED_FEED_TIMEZONE": "Mars/Olympus"}
    result = run(["db", "upgrade"], env, check=False)
    assert result.returncode == 1
    assert "unknown time zone" in result.stderr


@pytest.mark.parametrize("command", [[], ["demo"], ["serve"], ["import"], ["db", "upgrade"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run([*command, "--help"], {})
    assert "Usage:" in result.stdout
