"""The documentation matches the code: settings, CLI commands and options, JSON API routes
and HTML pages exist in docs/ exactly when they exist in the code.

Everything is read from the running code (the Settings fields, the click group walked
recursively, the routes the app serves), never from module names, so moving code around
changes nothing here while moving a URL or renaming an option does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from paperfeed.cli import main as cli
from paperfeed.config import Settings
from paperfeed.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "paperfeed"

ENV_VAR = re.compile(r"\bPAPERFEED_[A-Z0-9_]*[A-Z0-9]\b")
MARKDOWN = MarkdownIt("commonmark").enable("table")


def page(name: str) -> str:
    return (DOCS / f"{name}.md").read_text()


def pages() -> dict[str, str]:
    return {path.stem: path.read_text() for path in sorted(DOCS.glob("*.md"))}


def section(text: str, heading: str) -> str:
    """The text under `## heading`, up to the next heading of the same or a higher level."""
    lines = text.splitlines()
    for start, line in enumerate(lines):  # noqa: B007 (used after the loop)
        match = re.match(r"^(#+) (.*)$", line)
        if match and match.group(2) == heading:
            level = len(match.group(1))
            break
    else:
        raise AssertionError(f"no section {heading!r}")
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(rf"^#{{1,{level}}} ", lines[i])),
        len(lines),
    )
    return "\n".join(lines[start + 1 : end])


def code_in(tokens: list[Token]) -> list[str]:
    """The inline code spans among parsed tokens, whitespace collapsed (spans may wrap)."""
    return [
        " ".join(child.content.split())
        for token in tokens
        if token.type == "inline"
        for child in token.children or []
        if child.type == "code_inline"
    ]


def table_first_cells(text: str) -> Iterator[list[str]]:
    """The code spans in the first cell of every table body row."""
    tokens = MARKDOWN.parse(text)
    for i, token in enumerate(tokens):
        if token.type == "tr_open" and tokens[i + 1].type == "td_open":
            yield code_in([tokens[i + 2]])


def code_snippets(text: str) -> list[str]:
    """Every inline code span, and every line of every code block."""
    tokens = MARKDOWN.parse(text)
    blocks = [t.content for t in tokens if t.type in ("fence", "code_block")]
    return code_in(tokens) + [line for block in blocks for line in block.splitlines()]


# --- settings ----------------------------------------------------------------------------

# Variables read outside Settings, each with where it is read (checked below, so this list
# cannot outlive the code).
OTHER_VARIABLES = {
    "PAPERFEED_CLOCK": SRC / "clock.py",
    "PAPERFEED_WEB_WORKERS": ROOT / "deploy" / "systemd" / "paperfeed-web@.service",
}
# Read by the test suite only: documented on the development page and nowhere else.
TEST_VARIABLES_PAGE = "development"


def setting_variables() -> set[str]:
    return {f"PAPERFEED_{name.upper()}" for name in Settings.model_fields}


def cli_variables() -> set[str]:
    found: set[str] = set()
    for _, command in commands():
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            found.update([envvar] if isinstance(envvar, str) else envvar or [])
    return found


def test_every_setting_is_documented_on_the_configuration_page() -> None:
    documented = set(ENV_VAR.findall(page("configuration")))
    missing = sorted(setting_variables() - documented)
    assert missing == [], f"settings missing from docs/configuration.md: {missing}"


def test_every_documented_variable_exists() -> None:
    """No page names a PAPERFEED_ variable the code does not read (a renamed setting's old name)."""
    for name, where in OTHER_VARIABLES.items():
        assert name in where.read_text(), f"{name} is no longer read in {where}"
    known = setting_variables() | cli_variables() | set(OTHER_VARIABLES)
    test_only = set(ENV_VAR.findall((ROOT / "tests" / "conftest.py").read_text()))
    unknown = []
    for name, text in pages().items():
        for variable in sorted(set(ENV_VAR.findall(text)) - known):
            if variable in test_only and name == TEST_VARIABLES_PAGE:
                continue
            unknown.append(f"docs/{name}.md: {variable}")
    assert unknown == [], "documented variables that nothing reads:\n" + "\n".join(unknown)


# --- the command line ---------------------------------------------------------------------


def commands() -> Iterator[tuple[str, click.Command]]:
    """Every command and group of `paperfeed`, with its full name ("paperfeed digest send")."""

    def walk(name: str, command: click.Command) -> Iterator[tuple[str, click.Command]]:
        yield name, command
        if isinstance(command, click.Group):
            for sub_name, sub in sorted(command.commands.items()):
                yield from walk(f"{name} {sub_name}", sub)

    yield from walk("paperfeed", cli)


COMMANDS = dict(commands())


def options_of(command: click.Command) -> set[str]:
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
    } | {"--help", "-h"}


def test_the_cli_reference_is_generated_from_the_root_group_with_every_subcommand() -> None:
    """sphinx-click writes every command's usage, options and help into docs/cli.md's page."""
    text = page("cli")
    # sphinx-click writes reStructuredText, so it sits in an eval-rst block.
    directive = re.search(r"```\{eval-rst\}\n\.\. click:: (\S+)\n((?: +:\S+: ?.*\n)*)```", text)
    assert directive, "docs/cli.md has no click directive in an eval-rst block"
    assert directive.group(1) == "paperfeed.cli:main"
    options = dict(re.findall(r"^ +:(\S+): ?(.*)$", directive.group(2), re.M))
    assert options.get("prog") == "paperfeed"
    assert options.get("nested") == "full"


def test_every_command_and_option_has_help_for_the_reference() -> None:
    """The generated reference says what each one does only if the code does."""
    bare = [name for name, command in COMMANDS.items() if not (command.help or "").strip()]
    bare += [
        f"{name} {param.opts[0]}"
        for name, command in COMMANDS.items()
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert bare == [], "no help text: " + ", ".join(bare)


def test_every_command_is_in_the_overview_table() -> None:
    """The hand-written overview on docs/cli.md names every command, and only real ones."""
    listed = set()
    for spans in table_first_cells(section(page("cli"), "Commands")):
        listed.update(spans)
    leaf = {name for name, command in COMMANDS.items() if not isinstance(command, click.Group)}
    usage = {re.sub(r" (\[|[A-Z]|--).*", "", entry) for entry in listed}
    assert sorted(leaf - usage) == [], "commands missing from the overview in docs/cli.md"
    assert sorted(usage - set(COMMANDS)) == [], "docs/cli.md's overview names unknown commands"


@dataclass(frozen=True)
class Mention:
    page: str
    command: str
    option: str


# `paperfeed` then words, at the start, after a space or bracket, or after a `bin/` path.
COMMAND_LINE = re.compile(r"(?:^|(?<=[\s(\[])|(?<=bin/))paperfeed((?: [a-z][a-z-]*)+)(.*)")


def mentions() -> Iterator[Mention]:
    """Every `--option` written after a `paperfeed command` in a code span or code block line."""
    for name, text in pages().items():
        snippets = code_snippets(text)
        for snippet in snippets:
            for part in re.split(r";|&&| \| | # |\bpaperfeed\b(?= [a-z])", snippet):
                match = COMMAND_LINE.search("paperfeed" + part)
                if match is None:
                    continue
                words = match.group(1).split()
                while words and "paperfeed " + " ".join(words) not in COMMANDS:
                    words.pop()
                if not words:
                    continue
                command = "paperfeed " + " ".join(words)
                tail = match.group(0).split(command, 1)[1]
                for option in re.findall(r"(?<![\w-])--?[a-z][a-z0-9-]*", tail):
                    yield Mention(name, command, option)


def test_every_option_written_in_the_docs_exists() -> None:
    """`paperfeed import FILE --restart` in a page means `import` has `--restart`."""
    wrong = sorted(
        {
            f"docs/{m.page}.md: {m.command} {m.option}"
            for m in mentions()
            if m.option not in options_of(COMMANDS[m.command])
        }
    )
    assert wrong == [], "options the command does not have:\n" + "\n".join(wrong)


def test_the_option_check_reads_the_pages() -> None:
    """The scan finds known mentions (a broken one would pass everything)."""
    found = {(m.command, m.option) for m in mentions()}
    assert ("paperfeed index", "--rebuild") in found
    assert ("paperfeed digest subscribe", "--no-trending") in found


# --- routes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    path: str
    methods: frozenset[str]
    regex: re.Pattern[str]


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[Route]:
    """The app's routes in matching order, included routers flattened."""
    data = tmp_path_factory.mktemp("docs-app")
    app = create_app(Settings(data_dir=data, database_url=f"sqlite:///{data}/x.sqlite3"))

    def flat(items: Iterable[Any]) -> Iterator[Any]:
        for route in items:
            contexts = getattr(route, "effective_route_contexts", None)  # FastAPI's includes
            if contexts is not None:
                yield from contexts()
            else:
                yield route

    found = []
    for route in flat(app.routes):
        methods = getattr(route, "methods", None)
        if methods and getattr(route, "path_regex", None) is not None:
            found.append(Route(route.path, frozenset(methods), route.path_regex))
    assert len(found) > 50, "the app's routes were not all found"
    return found


def placeholder(path: str) -> str:
    """`/papers/{id}` as the template it documents: `{paper_id:path}` and `{id}` alike."""
    return re.sub(r"\{[^}]*\}", "{}", path)


# Served for browsers and tools, documented with the API instead of as API operations.
API_NON_OPERATIONS = {"/api/openapi.json", "/api/docs", "/api/docs/{}"}
API_ENTRY = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/api/[^`\s?]*)`")


def api_operations(routes: list[Route]) -> set[tuple[str, str]]:
    return {
        (method, placeholder(route.path))
        for route in routes
        if route.path.startswith("/api/") and placeholder(route.path) not in API_NON_OPERATIONS
        for method in route.methods - {"HEAD"}
    }


def test_every_json_api_route_is_documented_and_every_documented_one_exists(
    routes: list[Route],
) -> None:
    text = page("api")
    documented = {(method, placeholder(path)) for method, path in API_ENTRY.findall(text)}
    served = api_operations(routes)
    missing = sorted(f"{m} {p}" for m, p in served - documented)
    assert missing == [], "API routes missing from docs/api.md:\n" + "\n".join(missing)
    extra = sorted(f"{m} {p}" for m, p in documented - served)
    assert extra == [], "docs/api.md documents routes the app lacks:\n" + "\n".join(extra)
    for path in API_NON_OPERATIONS - {"/api/docs/{}"}:
        assert f"`{path}`" in text


# GET routes that are not pages for people, documented where operators look.
OPERATIONS_ROUTES = {"/healthz": "deployment", "/readyz": "deployment"}
EXAMPLE_VALUES = {"id": "2401.01234", "name": "ada"}


def page_routes(routes: list[Route]) -> list[Route]:
    return [
        r
        for r in routes
        if "GET" in r.methods and not r.path.startswith(("/api/", "/static"))
        if r.path not in OPERATIONS_ROUTES
    ]


def documented_addresses() -> list[str]:
    """The addresses in the first column of the tables on docs/using.md."""
    found = []
    for spans in table_first_cells(page("using")):
        for span in spans:
            if span.startswith("/"):
                found.append(re.split(r"[?…]", span)[0])
    return found


def resolve(address: str, routes: list[Route]) -> Route | None:
    """The GET route the app would answer a documented address with (first match wins)."""
    concrete = re.sub(r"\{(\w+)\}", lambda m: EXAMPLE_VALUES.get(m.group(1), "x"), address)
    return next(
        (r for r in routes if "GET" in r.methods and r.regex.match(concrete)),
        None,
    )


def test_every_page_route_is_in_the_using_page_tables(routes: list[Route]) -> None:
    answered = {resolve(address, routes) for address in documented_addresses()}
    missing = [r.path for r in page_routes(routes) if r not in answered]
    assert missing == [], "GET routes missing from the tables of docs/using.md:\n" + "\n".join(
        missing
    )


def test_every_address_in_the_using_page_tables_is_served(routes: list[Route]) -> None:
    unknown = [a for a in documented_addresses() if resolve(a, routes) is None]
    assert unknown == [], "docs/using.md lists addresses no route serves: " + ", ".join(unknown)


def test_operations_routes_are_documented_for_operators(routes: list[Route]) -> None:
    served = {r.path for r in routes}
    for path, name in OPERATIONS_ROUTES.items():
        assert path in served, f"{path} is no longer served"
        assert f"`{path}`" in page(name), f"{path} is missing from docs/{name}.md"


# --- the README ------------------------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The anchor GitHub (and MyST, configured so in docs/conf.py) gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_the_readmes_links_into_the_repository_resolve() -> None:
    """The README is not part of the Sphinx build, so its links are checked here."""
    readme = (ROOT / "README.md").read_text()
    tokens = MARKDOWN.parse(readme)
    targets = [
        child.attrs.get("href") or child.attrs.get("src")
        for token in tokens
        if token.type == "inline"
        for child in token.children or []
        if child.type in ("link_open", "image")
    ]
    broken = []
    for target in targets:
        if not isinstance(target, str) or re.match(r"^[a-z]+:", target):
            continue  # an external address
        path, _, anchor = target.partition("#")
        file = ROOT / path if path else ROOT / "README.md"
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", file.read_text(), re.M)
            if anchor not in {github_anchor(h) for h in headings}:
                broken.append(target)
    assert targets, "no links found in README.md"
    assert broken == [], "README.md links to nothing: " + ", ".join(broken)
