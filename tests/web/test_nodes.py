"""Several web nodes on one PostgreSQL database, each with its own search index directory:
every node's index follows the database by itself, within the follow interval plus one
sync (README, "Search on every node")."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from paperfeed.community import accounts, moderation
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.search.embeddings import embed_pending
from paperfeed.search.index import SearchIndex
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.search.test_follow import add_papers
from tests.web.live import LiveServer, start_server

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], scope="session")

FOLLOW_SECONDS = 0.2
# The follow interval plus one small sync is well under a second; the rest is headroom for
# a loaded test machine (the first search on a node also loads the query model).
BOUND_SECONDS = 10.0


class Node:
    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self.db = Database(settings.resolved_database_url())  # its own connection pool
        self.app = create_app(settings, self.db)
        self.server: LiveServer = start_server(self.app)

    def search(self, q: str) -> list[str] | None:
        """Public ids found by the search API, or None while the node has no index."""
        response = httpx.get(
            f"{self.server.url}/api/papers/search", params={"q": q, "limit": 100}, timeout=30
        )
        if response.status_code == 503:
            return None
        assert response.status_code == 200, response.text
        return [entry["paper"]["id"] for entry in response.json()]

    def vectors(self) -> int:
        index = self.app.state.search.index()
        return index.status()["vectors"] if index is not None else 0

    def stop(self) -> None:
        self.server.stop()
        self.db.dispose()


@pytest.fixture(scope="module")
def shared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for every node here, so the query model is prepared once."""
    return tmp_path_factory.mktemp("nodes")


@pytest.fixture
def start_node(
    db: Database, shared_data_dir: Path, tmp_path: Path
) -> Iterator[Callable[[str], Node]]:
    nodes: list[Node] = []

    def start(name: str) -> Node:
        settings = make_settings(shared_data_dir, db.url)
        settings.index_dir = tmp_path / f"index-{name}"
        settings.index_follow_seconds = FOLLOW_SECONDS
        node = Node(name, settings)
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


def wait_for(check: Callable[[], bool], what: str, bound: float = BOUND_SECONDS) -> float:
    """Seconds until `check()` held; fails with `what` if it did not within `bound`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < bound, f"not within {bound}s: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def finds(node: Node, q: str, public_id: str) -> Callable[[], bool]:
    return lambda: public_id in (node.search(q) or [])


def test_a_paper_ingested_on_one_node_is_found_on_the_other(
    db: Database,
    start_node: Callable[[str], Node],
    encoder,  # type: ignore[no-untyped-def]
) -> None:
    add_papers(db, 1, 20)
    a, b = start_node("a"), start_node("b")
    for node in (a, b):
        assert node.app.state.search.follower.running, node.name
        wait_for(lambda n=node: len(n.search("colouring") or []) == 20, f"{node.name} built")

    add_papers(a.db, 21, 1, topic="quokka ecology")  # ingestion, through node A's pool
    delay = wait_for(finds(b, "quokka", "2611.00021"), "node B finds the new paper")
    assert delay < BOUND_SECONDS
    assert b.search("quokka") == ["2611.00021"]
    assert b.vectors() == 0, "a web node never embeds"

    assert embed_pending(a.db, encoder).embedded == 21  # the worker's leased job
    for node in (a, b):
        wait_for(lambda n=node: n.vectors() == 21, f"node {node.name} gains the vectors")


def test_a_node_started_with_an_empty_index_catches_up(
    db: Database,
    start_node: Callable[[str], Node],
    encoder,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    add_papers(db, 1, 15)
    assert embed_pending(db, encoder).embedded == 15
    assert not (tmp_path / "index-fresh").exists()  # the node's index directory, before it starts
    fresh = start_node("fresh")
    assert fresh.settings.index_dir == tmp_path / "index-fresh"
    wait_for(lambda: len(fresh.search("colouring") or []) == 15, "the fresh node builds it")
    assert fresh.vectors() == 15, "the embeddings already in the database come too"


def test_a_node_with_a_stale_index_catches_up(
    db: Database, start_node: Callable[[str], Node], tmp_path: Path
) -> None:
    add_papers(db, 1, 10)
    SearchIndex(tmp_path / "index-stale").sync(db)  # the node's index, from last week
    add_papers(db, 11, 5, topic="quokka ecology")
    stale = start_node("stale")
    wait_for(lambda: len(stale.search("quokka") or []) == 5, "the stale node catches up")
    assert len(stale.search("colouring") or []) == 10


def test_a_hidden_paper_disappears_from_the_other_node(
    db: Database, start_node: Callable[[str], Node]
) -> None:
    add_papers(db, 1, 8)
    a, b = start_node("a"), start_node("b")
    wait_for(finds(b, "colouring", "2611.00003"), "node B serves the paper")

    with a.db.transaction() as session:  # a moderator hides it, on node A
        admin = accounts.create_user(
            session, "moderator", "mod@example.org", "a long password", role="admin"
        )
        moderation.hide_paper(session, "2611.00003", admin, "spam")
    wait_for(lambda: "2611.00003" not in (b.search("colouring") or ["?"]), "B drops it")
    assert len(b.search("colouring") or []) == 7
