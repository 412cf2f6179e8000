"""The `paperfeed` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from paperfeed.community.accounts import authenticate, find_user
from paperfeed.db import Database
from paperfeed.models import JobRun, Paper
from tests.conftest import postgres_database
from tests.web.live import free_port

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


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data directory the demo has loaded (no PAPERFEED_DATABASE_URL), and what it printed."""
    folder = tmp_path_factory.mktemp("demo")
    first = run(["demo", "--no-serve"], {"PAPERFEED_DATA_DIR": str(folder)})
    return folder, first.stdout


def unconfigured(folder: Path) -> dict[str, str]:
    """Only a data directory: every other setting at its default, as on a newcomer's machine."""
    env = {"PAPERFEED_DATA_DIR": str(folder)}
    for name in [n for n in os.environ if n.startswith("PAPERFEED_")]:
        env[name] = ""  # an empty PAPERFEED_DATABASE_URL counts as unset
    env["PAPERFEED_DATA_DIR"] = str(folder)
    return env


def test_demo_is_fast_and_changes_nothing_the_second_time(demo_dir) -> None:
    folder, printed = demo_dir
    assert "Demo data loaded: 568 added" in printed
    assert (folder / "paperfeed.sqlite3").exists()
    started = time.perf_counter()
    second = run(["demo", "--no-serve"], unconfigured(folder))
    assert "already loaded" in second.stdout
    assert time.perf_counter() - started < 15


def test_demo_prints_its_database_accounts_and_the_commands_to_use(demo_dir) -> None:
    folder, printed = demo_dir
    assert f"Its data lives in {folder / 'paperfeed.sqlite3'}" in printed
    passwords = dict(re.findall(r"^  (demo-\w+) +password (\S+)", printed, re.MULTILINE))
    assert set(passwords) == {"demo-admin", "demo-member"}
    assert all(len(p) >= 12 for p in passwords.values())
    assert "/demo/outbox" in printed
    assert re.search(r"paperfeed.* user create NAME --email \S+ --role admin", printed)
    assert 'search "speculative decoding"' in printed
    again = run(["demo", "--no-serve"], unconfigured(folder)).stdout
    assert dict(re.findall(r"^  (demo-\w+) +password (\S+)", again, re.MULTILINE)) == passwords
    db = Database(f"sqlite:///{folder / 'paperfeed.sqlite3'}")
    try:
        with db.reader() as session:
            admin = find_user(session, "demo-admin")
            assert admin is not None and admin.role == "admin"
            assert authenticate(session, "demo-member", passwords["demo-member"]).role == "user"
    finally:
        db.dispose()


def test_commands_after_the_demo_act_on_the_demo_database(demo_dir) -> None:
    folder, _printed = demo_dir
    env = {**unconfigured(folder), "PAPERFEED_NEW_PASSWORD": "a long password 1"}
    created = run(["user", "create", "boss", "--email", "boss@example.com", "--role", "admin"], env)
    assert f"Created boss (admin) in {folder / 'paperfeed.sqlite3'}." in created.stdout
    db = Database(f"sqlite:///{folder / 'paperfeed.sqlite3'}")
    try:
        with db.reader() as session:
            assert authenticate(session, "boss", "a long password 1").role == "admin"
    finally:
        db.dispose()
    found = run(["search", "speculative decoding", "--limit", "3"], env).stdout
    assert re.search(r"^\d+ papers match", found, re.MULTILINE)
    assert "Speculative Decoding" in found
    in_hep_ph = json.loads(run(["search", "quarks", "--category", "hep-ph", "--json"], env).stdout)
    assert in_hep_ph and "0704.0029" in {row["id"] for row in in_hep_ph}
    unknown = run(["search", "quarks", "--category", "cs.XX"], env, check=False)
    assert unknown.returncode != 0 and "Unknown category “cs.XX”" in unknown.stderr
    status = run(["status"], env).stdout
    assert f"database: {folder / 'paperfeed.sqlite3'}" in status
    assert "papers: 568" in status
    assert sorted(p.name for p in folder.glob("*.sqlite3")) == ["paperfeed.sqlite3"]


def test_the_demo_never_prints_the_database_password(tmp_path: Path) -> None:
    """Only a server's address holds a password, so this runs on PostgreSQL alone."""
    server = make_url(postgres_database("paperfeed_test_demo_password"))
    url = server.set(password="S3cret-pass").render_as_string(hide_password=False)
    env = {**unconfigured(tmp_path), "PAPERFEED_DATABASE_URL": url}
    printed = run(["demo", "--no-serve"], env)
    assert "S3cret-pass" not in printed.stdout + printed.stderr
    assert "Its data lives in postgresql+psycopg://postgres:***@" in printed.stdout
    # The commands it suggests still name the database, by the variable holding it.
    suggested = r'PAPERFEED_DATABASE_URL="\$PAPERFEED_DATABASE_URL" .*paperfeed.* status'
    assert re.search(suggested, printed.stdout)


def test_the_demo_warns_when_other_machines_can_reach_it(demo_dir) -> None:
    folder, _printed = demo_dir
    local = run(["demo", "--no-serve"], unconfigured(folder))
    assert "warning" not in local.stderr
    exposed = run(["demo", "--no-serve", "--host", "0.0.0.0"], unconfigured(folder))
    assert "other machines can reach it" in exposed.stderr
    assert "reset demo-admin's password" in exposed.stderr


def test_serve_refuses_the_demo_database_unless_allowed(demo_dir) -> None:
    folder, _printed = demo_dir
    refused = run(["serve", "--port", "1"], unconfigured(folder), check=False)
    assert refused.returncode == 1
    assert "is a demo database" in refused.stderr and "--allow-demo" in refused.stderr
    assert "Serving on" not in refused.stdout


def test_the_demo_refuses_a_database_that_holds_a_real_site(tmp_path: Path) -> None:
    env = {**unconfigured(tmp_path), "PAPERFEED_NEW_PASSWORD": "a long password 1"}
    run(["user", "create", "owner", "--email", "owner@example.com"], env)
    refused = run(["demo", "--no-serve"], env, check=False)
    assert refused.returncode == 1
    assert "is not a demo database" in refused.stderr
    assert "PAPERFEED_DATABASE_URL=" in refused.stderr
    db = Database(f"sqlite:///{tmp_path / 'paperfeed.sqlite3'}")
    try:
        with db.reader() as session:
            assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == 0
            assert find_user(session, "demo-admin") is None
    finally:
        db.dispose()


def test_reading_commands_say_which_database_is_missing_and_leave_no_file(tmp_path: Path) -> None:
    env = unconfigured(tmp_path)
    for command in (["status"], ["search", "speculative decoding"]):
        result = run(command, env, check=False)
        assert result.returncode == 1
        assert f"there is no database at {tmp_path / 'paperfeed.sqlite3'} yet" in result.stderr
        assert "paperfeed demo" in result.stderr
    assert list(tmp_path.glob("*.sqlite3")) == []


def test_reading_commands_say_when_the_database_is_empty(tmp_path: Path) -> None:
    env = unconfigured(tmp_path)
    run(["db", "upgrade"], env)
    searched = run(["search", "speculative decoding"], env, check=False)
    assert searched.returncode == 1
    assert f"{tmp_path / 'paperfeed.sqlite3'} has no papers" in searched.stderr
    assert "paperfeed index" not in searched.stderr
    status = run(["status"], env).stdout
    assert "This database has no papers" in status and "paperfeed demo" in status


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


def test_the_demo_serves_and_runs_the_worker_jobs_in_the_background(demo_dir) -> None:
    folder, _printed = demo_dir
    port = free_port()
    env = {**os.environ, **unconfigured(folder), "PAPERFEED_CLOCK": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    db = Database(f"sqlite:///{folder / 'paperfeed.sqlite3'}")
    try:
        deadline = time.monotonic() + 60
        ran: set[str] = set()
        while time.monotonic() < deadline and ran != {"index", "keywords", "digest", "mail"}:
            time.sleep(0.5)
            with db.reader() as session:
                ran = set(
                    session.execute(select(JobRun.job).where(JobRun.status == "ok")).scalars()
                )
        assert ran == {"index", "keywords", "digest", "mail"}
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
                    assert page.status == 200
                    break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "the demo site did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
        db.dispose()
    assert "Worker jobs running in the background: index, keywords, digest, mail." in output
    assert "Traceback" not in output
