"""The import direction of docs/design.md, enforced: a new import that breaks it fails here.

Read with `ast` (nothing is imported), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "paperfeed"

# Modules every package may use: settings, the clock, the database and its tables, the one
# domain error, and small helpers that know nothing of features (TeX, plurals, mail...).
FOUNDATION = {
    "paperfeed",
    "config",
    "clock",
    "db",
    "models",
    "errors",
    "email_address",
    "progress",
    "mail",
    "latex",
    "plurals",
}

# What each feature package may import besides the foundation and itself (docs/design.md).
MAY_IMPORT: dict[str, set[str]] = {
    "papers": set(),
    "ingest": {"papers"},
    "search": {"papers"},
    "community": {"papers"},
    "digest": {"papers", "search", "community", "outbox", "cli_support"},
    "jobs": {"ingest", "search", "digest", "outbox"},
    "personal": set(),
}

# Only these may import paperfeed.web (cli.py names the app for uvicorn as a string).
WEB_USERS = {"web"}


@dataclass(frozen=True)
class Import:
    path: Path  # the importing file
    line: int
    target: str  # dotted module name, e.g. paperfeed.web.app

    @property
    def unit(self) -> str:
        """The importing file's top-level unit: `digest` for digest/compose.py, `cli` for cli.py."""
        return self.path.relative_to(SRC).parts[0].removesuffix(".py")

    @property
    def target_unit(self) -> str:
        parts = self.target.split(".")
        return parts[1] if len(parts) > 1 else "paperfeed"

    def __str__(self) -> str:
        return f"{self.path.relative_to(SRC.parent)}:{self.line} imports {self.target}"


def modules() -> Iterator[Path]:
    yield from sorted(SRC.rglob("*.py"))


def is_module(name: str) -> bool:
    return (SRC / f"{name}.py").exists() or (SRC / name / "__init__.py").exists()


def imports_of(path: Path) -> Iterator[Import]:
    """Every `paperfeed` import in a file, relative ones resolved to their absolute name."""
    package = ["paperfeed", *path.relative_to(SRC).parts[:-1]]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from paperfeed import clock` imports the module paperfeed.clock;
            # `from paperfeed import __version__` only the package.
            names = [base]
            if base == "paperfeed":
                names = [f"paperfeed.{a.name}" if is_module(a.name) else base for a in node.names]
        else:
            continue
        for name in names:
            if name == "paperfeed" or name.startswith("paperfeed."):
                yield Import(path, node.lineno, name)


def all_imports() -> list[Import]:
    return [found for path in modules() for found in imports_of(path)]


def test_only_web_imports_the_web_package() -> None:
    offenders = [
        str(found)
        for found in all_imports()
        if found.target_unit == "web" and found.unit not in WEB_USERS
    ]
    assert offenders == [], "web/ is the top layer; nothing below may import it:\n" + "\n".join(
        offenders
    )


def test_feature_packages_import_only_what_design_md_allows() -> None:
    offenders = []
    for found in all_imports():
        allowed = MAY_IMPORT.get(found.unit)
        if allowed is None:
            continue
        target = found.target_unit
        if target not in FOUNDATION | allowed | {found.unit}:
            offenders.append(f"{found} ({found.unit}/ may import {sorted(allowed) or 'nothing'})")
    assert offenders == [], (
        "an import against the direction in docs/design.md (move the code, or change the design "
        "and this table together):\n" + "\n".join(offenders)
    )


def string_constants(node: ast.AST) -> list[str]:
    """The node's string literals in source order."""
    found = [
        (n.lineno, n.col_offset, n.value)
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]
    return [value for _, _, value in sorted(found)]


def reads_web_files(statement: ast.stmt) -> bool:
    """A path into web/ built from strings (`... / "web" / "templates"`, "web/templates/x",
    a loader for the package `paperfeed.web`) in one statement."""
    strings = string_constants(statement)
    joined = "/".join(strings)
    return (
        "web/templates" in joined
        or "web/static" in joined
        or any(s == "paperfeed.web" or s.startswith("paperfeed/web") for s in strings)
    )


def test_no_module_outside_web_reads_web_templates_or_static_files() -> None:
    """digest/ renders its email from its own templates/, not from web/'s files."""
    offenders = []
    for path in modules():
        if path.relative_to(SRC).parts[0] == "web":
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            # Simple statements only: a function's body is checked statement by statement.
            if isinstance(node, ast.stmt) and not hasattr(node, "body") and reads_web_files(node):
                offenders.append(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    assert offenders == [], "a path into web/ read from outside it:\n" + "\n".join(offenders)


# Where the app's state may be read: where it is set (app.py), the lifespan that starts what
# it holds, and deps.py, the one way routes (typed dependencies) and helpers reach it.
APP_STATE_READERS = {"web/app.py", "web/lifespan.py", "web/deps.py"}


def names_an_app(node: ast.expr) -> bool:
    """`app`, `request.app`, `scope["app"]`."""
    if isinstance(node, ast.Name):
        return node.id == "app"
    if isinstance(node, ast.Attribute):
        return node.attr == "app"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "app"
    return False


def app_state_reads(tree: ast.AST) -> list[int]:
    """The lines that reach into an app's `state` (not a request's own `request.state`)."""
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "state" and names_an_app(node.value)
    )


def test_only_deps_reads_the_app_state() -> None:
    offenders = [
        f"{path.relative_to(SRC.parent)}:{line}"
        for path in modules()
        if path.relative_to(SRC).as_posix() not in APP_STATE_READERS
        for line in app_state_reads(ast.parse(path.read_text(), str(path)))
    ]
    assert offenders == [], (
        "`app.state` read outside web/deps.py: take a typed dependency (SettingsDep, "
        "DatabaseDep, SearchDep...) or call get_settings(request) and the like:\n"
        + "\n".join(offenders)
    )


def test_the_checks_see_what_they_check() -> None:
    """The scan finds real imports (a broken walker would pass every test above)."""
    found = {(i.unit, i.target_unit) for i in all_imports()}
    expected = {("web", "papers"), ("papers", "models"), ("digest", "clock"), ("cli", "digest")}
    assert expected <= found
    bad = ast.parse('TEMPLATES = Path(__file__).parent.parent / "web" / "templates" / "email"')
    assert reads_web_files(bad.body[0])
    reads = ast.parse('a = request.app.state.db\nb = app.state\nc = scope["app"].state.x')
    assert app_state_reads(reads) == [1, 2, 3]
    assert app_state_reads(ast.parse("user = request.state.user")) == []
    deps = SRC / "web" / "deps.py"
    assert app_state_reads(ast.parse(deps.read_text())), "deps.py reads the state it hands out"
