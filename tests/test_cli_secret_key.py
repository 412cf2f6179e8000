"""`paperfeed serve` and `paperfeed worker` refuse a placeholder secret key.

The example environment file once shipped `PAPERFEED_SECRET_KEY=change-me`; a site started
with it signs its tokens with a key every reader of the repository knows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOOD_KEY = "k3y-long-enough-and-random-0123456789"
COMMANDS = [["serve", "--port", "1"], ["worker", "--once", "--jobs", "digest"]]


def run(args: list[str], tmp_path: Path, secret_key: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PAPERFEED_")}
    env["PAPERFEED_DATA_DIR"] = str(tmp_path)
    env["PAPERFEED_WORKER_DIGEST_INTERVAL"] = "0"  # the worker stops right after the checks
    if secret_key is not None:
        env["PAPERFEED_SECRET_KEY"] = secret_key
    return subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=["serve", "worker"])
@pytest.mark.parametrize("key", ["change-me", "changeme", "CHANGE-ME", "secret", '""', "  "])
def test_a_placeholder_key_stops_the_command(command: list[str], key: str, tmp_path: Path) -> None:
    result = run(command, tmp_path, key)
    assert result.returncode == 1
    assert "PAPERFEED_SECRET_KEY is a placeholder" in result.stderr
    assert "secrets.token_urlsafe(48)" in result.stderr
    assert not (tmp_path / "paperfeed.sqlite3").exists(), "refused before touching the database"


@pytest.mark.parametrize("command", COMMANDS, ids=["serve", "worker"])
def test_a_short_key_stops_the_command(command: list[str], tmp_path: Path) -> None:
    result = run(command, tmp_path, "fifteen-chars-x")
    assert result.returncode == 1
    assert "15 characters long; use at least 16" in result.stderr


@pytest.mark.parametrize("key", [GOOD_KEY, None], ids=["long key", "unset"])
def test_a_real_or_unset_key_passes_the_check(key: str | None, tmp_path: Path) -> None:
    # The worker gets past the key and the database, then stops: its only job is turned off.
    result = run(["worker", "--once", "--jobs", "digest"], tmp_path, key)
    assert result.returncode == 1
    assert "every selected job is turned off" in result.stderr
    assert "PAPERFEED_SECRET_KEY" not in result.stderr


def test_other_commands_do_not_check_the_key(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], tmp_path, "change-me")
    assert result.returncode == 0, result.stderr
