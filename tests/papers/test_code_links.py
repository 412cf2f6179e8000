"""Code links found in abstracts and comments; the link set on a paper wins."""

from __future__ import annotations

import json
import time
from importlib import resources

import pytest
from sqlalchemy import select

from paperfeed.db import Database
from paperfeed.models import Paper, PaperCodeLink
from paperfeed.papers.code_links import MAX_TEXT, find_links, paper_links, update_code_links
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import ENRICHMENT_CHANGE, current_change_seq, touch_paper, upsert_papers


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("Code: https://github.com/Luolc/AdaBound.", "https://github.com/Luolc/AdaBound"),
        (
            "at github.com/woodenchild95/FL-Simulator.git.",
            "https://github.com/woodenchild95/FL-Simulator",
        ),
        ("(http://www.github.com/a-b/c.d/tree/main/src)", "https://github.com/a-b/c.d"),
        (r"\url{https://github.com/THUDM/GLM-130B}", "https://github.com/THUDM/GLM-130B"),
        ("see https://github.com/x/y/issues/3, and", "https://github.com/x/y"),
        ("https://gitlab.com/grp/sub/proj/-/tree/main", "https://gitlab.com/grp/sub/proj"),
        (
            "huggingface.co/datasets/codeai-dteam/MultiOOP.",
            "https://huggingface.co/datasets/codeai-dteam/MultiOOP",
        ),
        ("https://huggingface.co/spaces/o/demo", "https://huggingface.co/spaces/o/demo"),
        (
            "https://huggingface.co/meta-llama/Llama-2-7b",
            "https://huggingface.co/meta-llama/Llama-2-7b",
        ),
    ],
)
def test_links_are_normalized(text: str, url: str) -> None:
    assert [link.url for link in find_links(text)] == [url]


@pytest.mark.parametrize(
    "text",
    [
        "release MiniMax-01 at https://github.com/MiniMax-AI.",  # an owner, not a repository
        "https://step-law.github.io/ and https://ineqmath.github.io/.",  # project pages
        "https://github.com/features/copilot and github.com/orgs/x",
        "https://huggingface.co/papers/2401.00001 and https://huggingface.co/docs/hub",
        "notgithub.com/a/b",
        "2,294 real-world GitHub issues",
    ],
)
def test_what_is_no_repository_link(text: str) -> None:
    assert find_links(text) == []


def test_repeats_are_one_link_and_case_does_not_matter() -> None:
    links = find_links("github.com/A/B and https://GitHub.com/a/b.git and github.com/a/c")
    assert [(x.url, x.repo_key) for x in links] == [
        ("https://github.com/A/B", "a/b"),
        ("https://github.com/a/c", "a/c"),
    ]


def test_pathological_text_is_read_in_linear_time() -> None:
    for text in (
        "github.com/" * 50_000,
        "github.com/" + "a/" * 100_000,
        "https://github.com/" + "a." * 200_000,
        "-" * 500_000 + "github.com/x/y",  # past MAX_TEXT: not read at all
    ):
        started = time.perf_counter()
        find_links(text)
        assert time.perf_counter() - started < 0.5
    assert find_links("x" * MAX_TEXT + " github.com/x/y") == []


def test_the_link_set_on_the_paper_wins() -> None:
    rows = paper_links(
        "https://github.com/owner/official",
        "Code at github.com/someone/fork.",
        "Data: huggingface.co/datasets/o/d",
    )
    assert [(r.link.url, r.source, r.is_primary) for r in rows] == [
        ("https://github.com/owner/official", "paper", True),
        ("https://github.com/someone/fork", "abstract", False),
        ("https://huggingface.co/datasets/o/d", "comments", False),
    ]
    # Without one, the first found is primary; a set link that is no repository still wins.
    assert [r.is_primary for r in paper_links(None, "github.com/a/b github.com/a/c", "")] == [
        True,
        False,
    ]
    assert [
        r.is_primary for r in paper_links("https://example.org/code", "github.com/a/b", "")
    ] == [False]


def test_the_sample_abstracts_link_fifty_github_repositories() -> None:
    data = resources.files("paperfeed") / "data"
    linked = set()
    for name in ("sample_papers.jsonl", "arxiv_snapshot_sample.jsonl"):
        for n, line in enumerate((data / name).read_text().splitlines()):
            obj = json.loads(line)
            kinds = {x.kind for x in find_links(obj.get("abstract"))}
            kinds |= {x.kind for x in find_links(obj.get("comments"))}
            if "github" in kinds:
                linked.add((name, n))
    assert len(linked) == 50


def _links(db: Database, arxiv_id: str) -> list[tuple[str, str, bool]]:
    with db.reader() as session:
        return [
            (r.url, r.source, r.is_primary)
            for r in session.scalars(
                select(PaperCodeLink)
                .join(Paper, Paper.id == PaperCodeLink.paper_id)
                .where(Paper.arxiv_id == arxiv_id)
                .order_by(PaperCodeLink.position)
            )
        ]


def _enrichment(db: Database) -> int:
    with db.reader() as session:
        return current_change_seq(session, ENRICHMENT_CHANGE)[0]


def test_update_code_links_is_incremental_and_never_touches_github_url(db: Database) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="A",
                    abstract="Code: https://github.com/found/a.",
                    arxiv_id="2401.00001",
                ),
                PaperRecord(
                    title="B",
                    abstract="Our code: github.com/fork/b",
                    arxiv_comments="10 pages; https://gitlab.com/g/b",
                    github_url="https://github.com/Official/B",
                    arxiv_id="2401.00002",
                ),
                PaperRecord(title="C", abstract="No code.", arxiv_id="2401.00003"),
            ],
        )
    stats = update_code_links(db, batch=2)
    assert (stats.examined, stats.changed) == (3, 2)
    assert _links(db, "2401.00001") == [("https://github.com/found/a", "abstract", True)]
    assert _links(db, "2401.00002") == [
        ("https://github.com/Official/B", "paper", True),
        ("https://github.com/fork/b", "abstract", False),
        ("https://gitlab.com/g/b", "comments", False),
    ]
    assert _links(db, "2401.00003") == []
    with db.reader() as session:
        urls = dict(session.execute(select(Paper.arxiv_id, Paper.github_url)).all())
    assert urls == {
        "2401.00001": None,
        "2401.00002": "https://github.com/Official/B",
        "2401.00003": None,
    }

    # Nothing changed: nothing examined. A vote: examined, nothing written, no new ETag.
    assert update_code_links(db).examined == 0
    before = _enrichment(db)
    with db.transaction() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2401.00001")).one()
        touch_paper(session, paper)
    stats = update_code_links(db)
    assert (stats.examined, stats.changed) == (1, 0)
    assert _enrichment(db) == before

    # A link set on the paper later takes over; the found one stays, no longer primary.
    with db.transaction() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2401.00001")).one()
        paper.github_url = "https://github.com/found/a-official"
        touch_paper(session, paper)
    assert update_code_links(db).changed == 1
    assert _links(db, "2401.00001") == [
        ("https://github.com/found/a-official", "paper", True),
        ("https://github.com/found/a", "abstract", False),
    ]
    assert _enrichment(db) > before


def test_update_code_links_resumes_from_its_cursor(db: Database) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title=f"P{i}", abstract=f"github.com/o/r{i}", arxiv_id=f"2401.0000{i}")
                for i in range(1, 6)
            ],
        )
    assert update_code_links(db, batch=2, limit=2).examined == 2  # stopped after a batch
    assert update_code_links(db, batch=2).examined == 3  # the rest, not the first two again
    assert _links(db, "2401.00005") == [("https://github.com/o/r5", "abstract", True)]
