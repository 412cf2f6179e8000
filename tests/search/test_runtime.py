"""The process's search runtime: slow work (opening a newly synced index, loading the model)
never holds up the requests that could be served meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.search.embeddings import embed_pending
from paperfeed.search.index import SearchIndex
from paperfeed.search.runtime import SearchRuntime
from tests.search.test_follow import add_papers

HELD_SECONDS = 20.0  # how long an open is held at most: a request waiting on it fails


@dataclass
class HeldOpen:
    """A thread opening the new index, held inside its (real) vector loading."""

    thread: threading.Thread
    opened: list[SearchIndex | None]
    release: threading.Event


@pytest.fixture
def held_open(
    db: Database,
    settings: Settings,
    encoder,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[SearchRuntime, SearchIndex, HeldOpen]]:
    """A runtime serving an index of 4 papers, a sync that changed the vectors, and a
    thread opening that new state, stopped while it reads the vectors."""
    add_papers(db, 1, 4)
    embed_pending(db, encoder)
    settings.index_dir = settings.data_dir / "index"
    SearchIndex(settings.index_dir).sync(db)
    runtime = SearchRuntime(settings, db)
    old = runtime.index()
    assert old is not None and old.status()["vectors"] == 4

    add_papers(db, 5, 1)
    embed_pending(db, encoder)
    SearchIndex(settings.index_dir).sync(db)

    loading, release = threading.Event(), threading.Event()
    real_load = SearchIndex.load_vectors

    def slow_load(index: SearchIndex) -> None:
        loading.set()
        release.wait(HELD_SECONDS)
        real_load(index)

    monkeypatch.setattr(SearchIndex, "load_vectors", slow_load)
    opened: list[SearchIndex | None] = []
    thread = threading.Thread(target=lambda: opened.append(runtime.index()))
    thread.start()
    assert loading.wait(10), "the new index was not opened"
    held = HeldOpen(thread, opened, release)
    try:
        yield runtime, old, held
    finally:
        release.set()
        thread.join(30)


def test_requests_get_the_old_index_while_one_thread_opens_the_new(
    held_open: tuple[SearchRuntime, SearchIndex, HeldOpen],
) -> None:
    runtime, old, held = held_open
    for _ in range(3):
        assert runtime.index() is old
    assert held.thread.is_alive(), "a request waited for the index being opened"

    held.release.set()
    held.thread.join(30)
    new = held.opened[0]
    assert new is not None and new is not old and new.status()["vectors"] == 5
    assert runtime.index() is new


def test_the_model_loads_without_waiting_for_an_index_being_opened(
    held_open: tuple[SearchRuntime, SearchIndex, HeldOpen],
) -> None:
    runtime, _old, held = held_open
    embeddings = runtime.embeddings()
    assert embeddings is not None, "the model did not load"
    assert held.thread.is_alive(), "loading the model waited for the index being opened"
    assert runtime.embeddings() is embeddings, "loaded once"
