"""The route table: every route is reachable, none is shadowed by an earlier one.

Starlette takes the first route that matches, so a fixed path (`/papers/trending`,
`/papers/submit`) or a suffix route (`/papers/{id}.bib`, `/users/{name}.rss`) placed after
a catch-all (`/papers/{id:path}`, `/users/{name}`) would silently never run. For each route
this builds a sample address from its own pattern and checks that the app sends a request
for it to that route and no other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route, compile_path

from paperfeed.web.app import create_app
from tests.conftest import make_settings

SAMPLES = {"path": "2401.01234", "int": "7", "str": "sample"}
FIXED_WORDS = {"kind": "date", "key": "2026-11-19", "fmt": "rss", "ext": "bib"}
PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


@dataclass(frozen=True)
class Entry:
    """A route as the app matches it: its full path (with any router prefix), in order."""

    path: str
    methods: frozenset[str]
    pattern: re.Pattern[str]


def flatten(routes: list, prefix: str = "") -> list[Entry]:  # type: ignore[type-arg]
    """The app's routes in matching order, included routers expanded in place."""
    entries: list[Entry] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            inner = prefix + getattr(route.include_context, "prefix", "")
            entries.extend(flatten(included.routes, inner))
        elif isinstance(route, APIRoute | Route):
            path = prefix + route.path
            entries.append(Entry(path, frozenset(route.methods or ()), compile_path(path)[0]))
    return entries


def sample_path(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2) or "str"
        return FIXED_WORDS.get(name, SAMPLES.get(kind, "sample"))

    return PARAM.sub(value, path)


def first_match(entries: list[Entry], method: str, path: str) -> Entry | None:
    for entry in entries:
        if method in entry.methods and entry.pattern.match(path):
            return entry
    return None


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[Entry]:
    folder: Path = tmp_path_factory.mktemp("routes")
    app = create_app(make_settings(folder, f"sqlite:///{folder / 'x.sqlite3'}"))
    return flatten(app.router.routes)


def test_the_table_holds_every_route(routes: list[Entry]) -> None:
    paths = {entry.path for entry in routes}
    assert {"/papers/trending", "/papers/{paper_id:path}", "/api/daily_papers"} <= paths
    assert len(routes) > 80


def test_no_route_is_shadowed_by_an_earlier_one(routes: list[Entry]) -> None:
    shadowed = []
    for entry in routes:
        path = sample_path(entry.path)
        for method in sorted(entry.methods):
            winner = first_match(routes, method, path)
            if winner is not entry:
                where = winner.path if winner else "nothing"
                shadowed.append(f"{method} {path} ({entry.path}) goes to {where}")
    assert shadowed == []


@pytest.mark.parametrize(
    "method, path, expected",
    [
        ("GET", "/papers/trending", "/papers/trending"),
        ("GET", "/papers/submit", "/papers/submit"),
        ("GET", "/papers/trending.rss", "/papers/trending.{fmt}"),
        ("GET", "/papers/hep-th/9901001.bib", "/papers/{paper_id:path}.bib"),
        ("GET", "/papers/2401.01234.md", "/papers/{paper_id:path}.md"),
        ("GET", "/users/ada.rss", "/users/{name}.{fmt}"),
        # Old-style ids look like a period (`/papers/date/...`); that route hands every
        # other first part to the paper page.
        ("GET", "/papers/hep-th/9901001", "/papers/{kind}/{key}"),
        ("GET", "/papers/2401.01234", "/papers/{paper_id:path}"),
        ("POST", "/papers/hep-th/9901001/upvote", "/papers/{paper_id:path}/upvote"),
        ("GET", "/api/docs", "/api/docs"),
    ],
)
def test_fixed_words_and_suffixes_reach_their_own_routes(
    routes: list[Entry], method: str, path: str, expected: str
) -> None:
    winner = first_match(routes, method, path)
    assert winner is not None and winner.path == expected


def test_a_catch_all_placed_first_would_be_caught(routes: list[Entry]) -> None:
    """The check itself: put the paper page first and the fixed words are shadowed."""
    catch_all = next(e for e in routes if e.path == "/papers/{paper_id:path}")
    reordered = [catch_all, *[e for e in routes if e is not catch_all]]
    assert first_match(reordered, "GET", "/papers/trending") is catch_all
