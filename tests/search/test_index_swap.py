"""Swapping a rebuilt index in: a rebuild killed at any step leaves a whole index that the
next sync completes, readers never see an empty or partial one, readers never create
files, and an index in the layout before build directories keeps working."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import Paper
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.papers.topics import category_filter
from paperfeed.search.embeddings import embed_pending
from paperfeed.search.engine import OUTDATED_INDEX, SearchRequest, search
from paperfeed.search.follow import IndexFollower, database_position, index_is_current
from paperfeed.search.index import (
    BUILDS_DIR,
    INDEX_PARTS,
    LEGACY_MANIFEST_VERSION,
    MANIFEST_FILE,
    Manifest,
    SearchIndex,
)
from paperfeed.search.lexical import Filters, LexicalIndex
from paperfeed.search.runtime import SearchRuntime
from paperfeed.search.vectors import VectorStore
from tests.conftest import FIXED_NOW
from tests.search.test_follow import add_papers
from tests.search.test_lexical import write_first_schema_index

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = 40, 50  # papers in the index being replaced, and in the database


class Killed(BaseException):
    """The process dying at this point: a BaseException, so nothing on the way catches it."""


@contextmanager
def dying_at_step(monkeypatch: pytest.MonkeyPatch, step: int) -> Iterator[list[str]]:
    """Count the file system steps (every `os.replace`, every `shutil.rmtree`) and die just
    before step number `step` (from 0) is taken."""
    taken: list[str] = []
    real_replace, real_rmtree = os.replace, shutil.rmtree

    def take(what: str) -> None:
        if len(taken) == step:
            raise Killed(what)
        taken.append(what)

    def replace(source, target, *args, **kwargs):  # type: ignore[no-untyped-def]
        take(f"replace {source} -> {target}")
        return real_replace(source, target, *args, **kwargs)

    def rmtree(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        take(f"rmtree {path}")
        return real_rmtree(path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", replace)
        patch.setattr(shutil, "rmtree", rmtree)
        yield taken


def visible_papers(db: Database) -> int:
    with db.reader() as session:
        return session.scalar(
            select(func.count()).select_from(Paper).where(Paper.hidden_at.is_(None))
        )


def counts(index: SearchIndex | None) -> tuple[int, int]:
    assert index is not None, "a reader was left without an index"
    status = index.status()
    return status["papers"], status["vectors"]


def assert_whole_and_clean(path: Path, db: Database) -> None:
    """What a finished sync leaves: the database's papers and vectors, current, one build."""
    index = SearchIndex(path)
    assert index.open(), f"no index in {path}"
    assert counts(index) == (visible_papers(db), NEW)
    assert index_is_current(Manifest.read(path / MANIFEST_FILE), database_position(db))
    assert sorted(p.name for p in path.iterdir()) == [BUILDS_DIR, MANIFEST_FILE, "sync.lock"]
    assert [p.name for p in (path / BUILDS_DIR).iterdir()] == [index.manifest.build]


@pytest.fixture
def old_index(db: Database, settings: Settings, encoder) -> Path:  # type: ignore[no-untyped-def]
    """An index of OLD embedded papers, while the database has moved on to NEW."""
    add_papers(db, 1, OLD)
    embed_pending(db, encoder)
    path = settings.data_dir / "index-old"
    SearchIndex(path).sync(db, batch_size=10)
    add_papers(db, OLD + 1, NEW - OLD, topic="quokka ecology")
    embed_pending(db, encoder)
    return path


def rebuild_killed_at(
    step: int, db: Database, settings: Settings, path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str] | None:
    """Rebuild the index at `path` dying before file system step `step`, checking what
    readers see meanwhile and after, then restart the node; the steps taken if the rebuild
    finished (there was no step `step`), else None."""
    settings.index_dir = path
    runtime = SearchRuntime(settings, db)  # a web process serving this node
    served = runtime.index()
    assert counts(served) == (OLD, OLD)
    during: list[tuple[int, int]] = []

    def look(_stage: str, _done: int, _total: int) -> None:
        during.append(counts(runtime.index()))

    completed = None
    with dying_at_step(monkeypatch, step) as taken:
        try:
            SearchIndex(path).sync(db, progress=look, batch_size=10, rebuild=True)
            completed = taken
        except Killed:
            pass
    assert set(during) <= {(OLD, OLD)}, f"readers saw {during}"
    assert during or completed is None, "the readers were never looked at"
    after_kill = SearchIndex(path)
    assert after_kill.open(), "no index after the kill"
    assert counts(after_kill) in {(OLD, OLD), (NEW, NEW)}
    assert counts(runtime.index()) in {(OLD, OLD), (NEW, NEW)}
    assert counts(served) == (OLD, OLD), "an open reader lost its files"

    # The node restarts: its follower brings the index up to date.
    assert IndexFollower(settings, db).tick() in ("synced", "current")
    assert counts(runtime.index()) == (NEW, NEW)
    SearchIndex(path).sync(db)
    assert_whole_and_clean(path, db)
    return completed


def test_a_rebuild_killed_at_any_step_leaves_a_whole_index_the_next_sync_completes(
    db: Database, settings: Settings, old_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for step in range(200):
        path = settings.data_dir / f"index-{step}"
        shutil.copytree(old_index, path)
        try:
            completed = rebuild_killed_at(step, db, settings, path, monkeypatch)
        except AssertionError as error:
            raise AssertionError(f"killed before step {step}: {error}") from error
        if completed is not None:
            break
    assert completed is not None, "the rebuild never finished"
    swaps = [s for s in completed if s.endswith(f"-> {path / MANIFEST_FILE}")]
    assert len(completed) >= 10 and swaps, completed


SIGKILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
from paperfeed.db import Database
from paperfeed.search.index import MANIFEST_FILE, SearchIndex

path, url, when = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
real_replace, swapped = os.replace, []

def replace(source, target):
    if when == "at the swap" and Path(target) == path / MANIFEST_FILE and "builds" in str(source):
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, target)
    if when == "after the swap" and Path(target) == path / MANIFEST_FILE:
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
SearchIndex(path).sync(Database(url), batch_size=10, rebuild=True)
"""


@pytest.mark.parametrize("when", ["at the swap", "after the swap"])
def test_a_rebuild_process_killed_at_the_swap_leaves_a_whole_index(
    db: Database, settings: Settings, old_index: Path, when: str
) -> None:
    settings.index_dir = old_index
    runtime = SearchRuntime(settings, db)
    assert counts(runtime.index()) == (OLD, OLD)
    run = subprocess.run(
        [sys.executable, "-c", SIGKILL_SCRIPT, str(old_index), db.url, when],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    expected = (OLD, OLD) if when == "at the swap" else (NEW, NEW)
    assert counts(runtime.index()) == expected
    assert IndexFollower(settings, db).tick() == ("synced" if expected[0] == OLD else "current")
    assert counts(runtime.index()) == (NEW, NEW)
    SearchIndex(old_index).sync(db)
    assert_whole_and_clean(old_index, db)


def test_readers_keep_serving_a_build_deleted_under_them(
    db: Database, settings: Settings, old_index: Path
) -> None:
    reader = SearchIndex(old_index)
    assert reader.open() and reader.build_path is not None
    old_build = reader.build_path
    SearchIndex(old_index).sync(db, rebuild=True)
    assert not old_build.exists(), "the replaced build should be removed"
    assert counts(reader) == (OLD, OLD)
    lexical = reader.lexical
    assert lexical is not None and reader.vectors is not None
    query = lexical.index.parse_query("colouring", ["title"])
    assert lexical.index.searcher().search(query, 100, count=True).count == OLD
    assert reader.vectors.vector(1) is not None  # rows read from the deleted file


def test_a_reader_whose_build_is_swapped_out_while_it_opens_opens_the_new_one(
    db: Database, old_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest is read, then a rebuild swaps and deletes that build before the reader
    opens its files: the reader reads the manifest again instead of failing (or creating)."""
    real_open_build = SearchIndex._open_build
    reader = SearchIndex(old_index)
    resolved: list[str | None] = []

    def open_build_after_a_rebuild(index, manifest, stamp, load_vectors):  # type: ignore[no-untyped-def]
        if index is reader:
            resolved.append(manifest.build)
            if len(resolved) == 1:
                SearchIndex(old_index).sync(db, rebuild=True)
        return real_open_build(index, manifest, stamp, load_vectors)

    monkeypatch.setattr(SearchIndex, "_open_build", open_build_after_a_rebuild)
    assert reader.open()
    monkeypatch.undo()
    assert len(resolved) == 2 and resolved[0] != resolved[1], resolved
    assert reader.manifest is not None and reader.manifest.build == resolved[1]
    assert not (old_index / BUILDS_DIR / str(resolved[0])).exists(), "a reader created files"
    assert counts(reader) == (NEW, NEW)


# --- readers never write --------------------------------------------------------------------


def test_readers_create_nothing_where_there_is_no_index(tmp_path: Path) -> None:
    missing = tmp_path / "none"
    assert not SearchIndex(missing).open()
    with pytest.raises(FileNotFoundError):
        LexicalIndex(missing / "lexical", create=False)
    store = VectorStore(missing / "vectors", 8, create=False)
    store.load(0)
    assert store.count == 0
    with pytest.raises(FileNotFoundError):
        store.load(3)
    assert not missing.exists(), "a reader created files"


def test_a_manifest_naming_a_missing_build_is_no_index_and_the_sync_rebuilds(
    db: Database, settings: Settings, old_index: Path
) -> None:
    manifest = Manifest.read(old_index / MANIFEST_FILE)
    assert manifest is not None and manifest.build is not None
    build = old_index / BUILDS_DIR / manifest.build
    shutil.rmtree(build / "lexical")  # files lost under a reader

    settings.index_dir = old_index
    assert SearchRuntime(settings, db).index() is None
    assert not SearchIndex(old_index).open()
    assert not (build / "lexical").exists(), "a reader created an empty keyword index"

    SearchIndex(old_index).sync(db)
    assert_whole_and_clean(old_index, db)


def test_vectors_shorter_than_the_manifest_says_are_not_served_as_empty(
    db: Database, old_index: Path
) -> None:
    manifest = Manifest.read(old_index / MANIFEST_FILE)
    assert manifest is not None and manifest.build is not None
    (old_index / BUILDS_DIR / manifest.build / "vectors" / "keys.i64").unlink()
    assert not SearchIndex(old_index).open()
    SearchIndex(old_index).sync(db)
    assert_whole_and_clean(old_index, db)


# --- the layout before build directories ----------------------------------------------------


def to_legacy_layout(path: Path) -> None:
    """Rewrite an index as earlier versions wrote it: parts beside a version 1 manifest."""
    manifest = Manifest.read(path / MANIFEST_FILE)
    assert manifest is not None and manifest.build is not None
    for part in INDEX_PARTS:
        os.replace(path / BUILDS_DIR / manifest.build / part, path / part)
    shutil.rmtree(path / BUILDS_DIR)
    data = {k: v for k, v in manifest.__dict__.items() if k != "build"}
    (path / MANIFEST_FILE).write_text(json.dumps({**data, "version": LEGACY_MANIFEST_VERSION}))


def test_an_index_in_the_old_layout_is_served_then_moved_into_a_build(
    db: Database, settings: Settings, old_index: Path
) -> None:
    to_legacy_layout(old_index)
    settings.index_dir = old_index
    runtime = SearchRuntime(settings, db)
    served = runtime.index()
    assert counts(served) == (OLD, OLD), "an index of the old layout is served as it is"
    linked = (old_index / "vectors" / "vectors.f16").stat().st_ino

    assert IndexFollower(settings, db).tick() == "synced"
    assert_whole_and_clean(old_index, db)
    build = Manifest.read(old_index / MANIFEST_FILE).build  # type: ignore[union-attr]
    moved = old_index / BUILDS_DIR / str(build) / "vectors" / "vectors.f16"
    assert moved.stat().st_ino != linked, "the sync added vectors: a new file"
    assert counts(served) == (OLD, OLD), "the old reader keeps its files"
    assert counts(runtime.index()) == (NEW, NEW)


def test_an_old_layout_index_moves_by_hard_links_without_copying(
    db: Database, settings: Settings, old_index: Path
) -> None:
    SearchIndex(old_index).sync(db)  # up to date: the move is all the next sync does
    to_legacy_layout(old_index)
    inode = (old_index / "vectors" / "vectors.f16").stat().st_ino
    SearchIndex(old_index).sync(db)
    assert_whole_and_clean(old_index, db)
    build = Manifest.read(old_index / MANIFEST_FILE).build  # type: ignore[union-attr]
    assert (old_index / BUILDS_DIR / str(build) / "vectors" / "vectors.f16").stat().st_ino == inode


def test_an_old_layout_index_emptied_by_an_interrupted_swap_is_rebuilt(
    db: Database, settings: Settings, old_index: Path
) -> None:
    """What earlier versions left after a rebuild killed between moving two parts: an
    empty keyword index under a manifest that says every paper is in it."""
    SearchIndex(old_index).sync(db)
    to_legacy_layout(old_index)
    shutil.rmtree(old_index / "lexical")
    LexicalIndex(old_index / "lexical", create=True)
    broken = SearchIndex(old_index)
    assert broken.open() and counts(broken) == (0, NEW)
    settings.index_dir = old_index
    assert IndexFollower(settings, db).tick() == "synced", "its manifest claims it is current"
    assert_whole_and_clean(old_index, db)


# --- an index of an older keyword index schema ----------------------------------------------


def to_first_schema(path: Path, db: Database) -> None:
    """Rewrite an index's keyword part as schema version 1 wrote it (no categories), under a
    manifest that names no schema, as manifests did then."""
    manifest = Manifest.read(path / MANIFEST_FILE)
    assert manifest is not None and manifest.build is not None
    lexical = path / BUILDS_DIR / manifest.build / "lexical"
    shutil.rmtree(lexical)
    with db.reader() as session:
        docs = [(r.id, r.title) for r in session.execute(select(Paper.id, Paper.title))]
    write_first_schema_index(lexical, docs)
    data = {k: v for k, v in manifest.__dict__.items() if k != "lexical_schema"}
    (path / MANIFEST_FILE).write_text(json.dumps(data))


def test_an_index_from_before_categories_is_served_then_rebuilt_by_the_follower(
    db: Database,
    settings: Settings,
    encoder,  # type: ignore[no-untyped-def]
) -> None:
    records = [
        PaperRecord(
            title=f"Quarks and gluons, part {n}",
            abstract=f"We study quarks in setting number {n}.",
            arxiv_id=f"2611.{n:05d}",
            authors=["Ada Lovelace"],
            categories=["hep-ph", "hep-ex"] if n % 2 else ["cs.CL", "hep-ph"],
            published_at=FIXED_NOW,
            feed_at=FIXED_NOW,
        )
        for n in range(1, 7)
    ]
    records.append(
        PaperRecord(
            title="Quarks in language",
            abstract="Quarks.",
            arxiv_id="2611.00099",
            categories=["cs.CL"],
            published_at=FIXED_NOW,
            feed_at=FIXED_NOW,
        )
    )
    with db.transaction() as session:
        upsert_papers(session, records)
    embed_pending(db, encoder)
    path = settings.index_dir = settings.data_dir / "index-v1"
    SearchIndex(path).sync(db)
    to_first_schema(path, db)

    runtime = SearchRuntime(settings, db)
    served = runtime.index()
    assert served is not None and served.ready and served.manifest is not None
    assert served.manifest.outdated and served.lexical is not None
    assert not served.lexical.has_categories
    in_hep_ph = Filters(categories=category_filter(["hep-ph"]))
    with db.reader() as session:
        words = search(session, served, None, SearchRequest(q="quarks"))
        refused = search(session, served, None, SearchRequest(q="quarks", filters=in_hep_ph))
    assert words.total == 7, "the old index still answers searches without categories"
    assert refused.message == OUTDATED_INDEX and refused.hits == []
    assert not index_is_current(Manifest.read(path / MANIFEST_FILE), database_position(db))

    assert IndexFollower(settings, db).tick() == "synced"
    rebuilt = runtime.index()
    assert rebuilt is not None and rebuilt.manifest is not None and rebuilt.lexical is not None
    assert not rebuilt.manifest.outdated and rebuilt.lexical.has_categories
    with db.reader() as session:
        listed = search(session, rebuilt, None, SearchRequest(q="", filters=in_hep_ph))
    assert sorted(h.paper.public_id for h in listed.hits) == [f"2611.{n:05d}" for n in range(1, 7)]
    assert IndexFollower(settings, db).tick() == "current"
