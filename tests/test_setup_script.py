"""Every program a test runs is installed by `scripts/setup --test`.

A clean clone's CI on a machine without nginx once ended `3 failed`: tests/test_deploy.py
ran `nginx`, which the setup script never installed (the developers' machines had it). So
the tests' sources are scanned for the programs they start, and each must be in the setup
script's TEST_PROGRAMS list; after setup has run (as it does first in CI), each must be there.
"""

from __future__ import annotations

import ast
import glob
import re
import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
SETUP = ROOT / "scripts" / "setup"
# The tests, and the bench scripts that tests/test_bench*.py run.
SCANNED = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")])
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
# An absolute path into a bin directory, such as /usr/sbin/nginx or
# /usr/lib/postgresql/*/bin/initdb.
BIN_PATH = re.compile(r"^/\S*/s?bin/([\w.+-]+)$")
# Programs found in the sources that no test runs, with the reason.
NOT_RUN_BY_TESTS = {
    "py-spy": "bench/load.py --profile only, which no test passes; the bench says to install it",
}


def setup_programs() -> dict[str, str]:
    """TEST_PROGRAMS in scripts/setup: program -> Debian package."""
    block = re.search(r"^TEST_PROGRAMS=\((.*?)^\)", SETUP.read_text(), re.S | re.M)
    assert block, "scripts/setup has no TEST_PROGRAMS=( ... ) list"
    entries = (line.split("#")[0].strip() for line in block.group(1).splitlines())
    return dict(entry.split(":", 1) for entry in entries if entry)


def _program(node: ast.expr) -> str | None:
    """The program a command's first item names: "nginx", "/bin/sh" or *("openssl", ...)."""
    if isinstance(node, ast.Starred) and isinstance(node.value, ast.Tuple | ast.List):
        node = node.value.elts[0] if node.value.elts else node
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit("/", 1)[-1]
    return None


def _is_bin_dir(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name.lower() == "bin" or name.lower().endswith("_bin")


def _is_venv_bin(node: ast.expr) -> bool:
    """`Path(sys.executable).parent`: the test virtualenv's bin directory."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "parent"
        and "sys.executable" in ast.unparse(node.value)
    )


def programs_run(source: str) -> tuple[set[str], set[str]]:
    """(system programs, virtualenv programs) that this test source starts.

    Found: shutil.which("x"); absolute paths into a bin directory; the first item of a list
    literal passed to subprocess.run/Popen/..., directly or through a variable assigned in
    the same file; `<bin dir> / "x"` (PostgreSQL's binaries);
    `Path(sys.executable).parent / "x"` (a console script of the virtualenv).
    """
    system: set[str] = set()
    venv: set[str] = set()
    tree = ast.parse(source)
    lists: dict[str, list[ast.expr]] = {}  # `command = [...]`, for subprocess.run(command)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            lists.setdefault(node.targets[0].id, []).append(node.value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            if owner == "shutil" and node.func.attr == "which" and node.args:
                found = _program(node.args[0])
                system |= {found} if found else set()
            if owner == "subprocess" and node.func.attr in SUBPROCESS_CALLS and node.args:
                command = node.args[0]
                named = lists.get(command.id, []) if isinstance(command, ast.Name) else []
                for literal in [command, *named]:
                    if isinstance(literal, ast.List | ast.Tuple) and literal.elts:
                        found = _program(literal.elts[0])
                        system |= {found} if found else set()
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = BIN_PATH.match(node.value)
            if match:
                system.add(match.group(1))
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Div)
            and isinstance(node.right, ast.Constant)
            and isinstance(node.right.value, str)
        ):
            if _is_venv_bin(node.left):
                venv.add(node.right.value)
            elif _is_bin_dir(node.left):
                system.add(node.right.value)
    return system, venv


def scan() -> dict[str, set[str]]:
    """Each program the scanned sources start -> the files that start it."""
    where: dict[str, set[str]] = {}
    for path in SCANNED:
        system, _ = programs_run(path.read_text())
        for program in system:
            where.setdefault(program, set()).add(str(path.relative_to(ROOT)))
    return where


def installed(program: str) -> bool:
    """Found the way scripts/setup's have() looks (PATH, sbin, PostgreSQL's bin dirs)."""
    return bool(
        shutil.which(program)
        or Path("/usr/sbin", program).exists()
        or Path("/sbin", program).exists()
        or glob.glob(f"/usr/lib/postgresql/*/bin/{program}")
    )


def test_the_scan_finds_each_way_a_test_starts_a_program() -> None:
    source = """
import shutil, subprocess, sys
from pathlib import Path
A = shutil.which("nginx") or "/usr/sbin/nginx"
subprocess.run([*("openssl", "req"), "-x509"])
subprocess.Popen(["/bin/sh", "-c", "true"])
command = ["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl")]
subprocess.run(command, capture_output=True)
glob.glob("/usr/lib/postgresql/*/bin/initdb")
PAPERFEED = Path(sys.executable).parent / "paperfeed"
subprocess.run([sys.executable, "-m", "paperfeed.cli"])
subprocess.run(other)
"""
    assert programs_run(source) == (
        {"nginx", "openssl", "sh", "runuser", "pg_ctl", "initdb"},
        {"paperfeed"},
    )


def test_every_program_the_tests_run_is_installed_by_setup() -> None:
    declared = setup_programs()
    found = scan()
    assert {"nginx", "chromium", "initdb"} <= found.keys()  # the scan sees the known ones
    missing = {
        program: sorted(files)
        for program, files in found.items()
        if program not in declared and program not in NOT_RUN_BY_TESTS
    }
    assert not missing, (
        "programs the tests run that scripts/setup --test does not install (add each to "
        f"TEST_PROGRAMS there, with its Debian package): {missing}"
    )


def test_the_setup_list_names_only_programs_the_tests_run() -> None:
    stale = setup_programs().keys() - scan().keys()
    assert not stale, f"TEST_PROGRAMS lists programs no test runs any more: {sorted(stale)}"


def test_the_virtualenv_programs_the_tests_run_come_with_the_package() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    used = set().union(*(programs_run(path.read_text())[1] for path in SCANNED))
    assert "paperfeed" in used
    assert used <= scripts.keys(), f"not console scripts of paperfeed: {used - scripts.keys()}"


def test_each_listed_program_is_on_this_machine() -> None:
    """CI runs scripts/setup --test first, so a program missing now was not installed."""
    absent = sorted(program for program in setup_programs() if not installed(program))
    assert not absent, f"scripts/setup --test did not install: {absent}"
