"""papers.related: a list's authors, organizations and people, loaded in a few queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.models import Paper, PaperAuthor, User
from paperfeed.papers.records import OrganizationRef, PaperRecord
from paperfeed.papers.related import Byline, load_related
from paperfeed.papers.store import upsert_papers

FEED_AT = datetime(2026, 11, 18, 15, tzinfo=UTC)


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The queries run inside the block (SELECTs: a read session may also say BEGIN)."""
    statements: list[str] = []

    def note(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def person(name: str) -> User:
    return User(
        username=name, email=f"{name}@example.org", password_hash="-", created_at=clock.now()
    )


def seed(db: Database, extra: int = 0) -> None:
    """ "many": six authors (the second claimed by bob, the third hidden), an organization,
    submitted by alice; "none": no authors; "one": one author, the same organization;
    then `extra` more papers like "one"."""
    lab = OrganizationRef("lab", "The Lab")
    records = [
        PaperRecord("many", "a", authors=list("ABCDEF"), organization=lab, feed_at=FEED_AT),
        PaperRecord("none", "a", feed_at=FEED_AT),
        PaperRecord("one", "a", authors=["X"], organization=lab, feed_at=FEED_AT),
        *(
            PaperRecord(f"more {i}", "a", authors=[f"M{i}"], organization=lab, feed_at=FEED_AT)
            for i in range(extra)
        ),
    ]
    with db.transaction() as session:
        upsert_papers(session, records)
        alice, bob = person("alice"), person("bob")
        session.add_all([alice, bob])
        session.flush()
        papers = {p.title: p for p in session.execute(select(Paper)).scalars()}
        for paper in papers.values():
            if paper.title != "none":
                paper.submitted_by_id = alice.id
        many = papers["many"].id
        session.get_one(PaperAuthor, (many, 1)).user_id = bob.id
        session.get_one(PaperAuthor, (many, 2)).hidden = True


def listed(db: Database) -> list[Paper]:
    with db.reader() as session:
        return list(session.execute(select(Paper).order_by(Paper.id)).scalars())


def test_everything_about_a_list_in_three_queries(db: Database) -> None:
    seed(db)
    papers = listed(db)
    with db.reader() as session, counted(db) as statements:
        related = load_related(session, papers)
    assert len(statements) == 3  # authors, organizations, users
    many, none, one = papers
    assert related.author_names() == {many.id: list("ABCDEF"), none.id: [], one.id: ["X"]}
    claimed = related.authors[many.id][1]
    assert claimed == Byline(1, "B", hidden=False, user_id=claimed.user_id)
    assert claimed.user_id is not None and related.users[claimed.user_id].username == "bob"
    assert related.authors[many.id][2].hidden
    assert [o.name for o in related.organizations.values()] == ["lab"]
    assert sorted(u.username for u in related.users.values()) == ["alice", "bob"]


def test_the_query_count_does_not_grow_with_the_list(db: Database) -> None:
    seed(db, extra=30)
    papers = listed(db)
    with db.reader() as session, counted(db) as statements:
        related = load_related(session, papers)
    assert len(statements) == 3
    assert len(related.authors) == 33 and all(
        related.author_names()[p.id] for p in papers if p.title != "none"
    )


def test_a_card_takes_the_first_authors_and_a_feed_leaves_out_hidden_ones(db: Database) -> None:
    seed(db)
    papers = listed(db)
    many = papers[0].id
    with db.reader() as session:
        card = load_related(session, papers, first_authors=4)
        with counted(db) as statements:
            feed = load_related(session, papers, hidden_authors=False, people=False)
    assert card.author_names()[many] == list("ABCD")  # the hidden "C" too, as cards show it
    assert feed.author_names()[many] == list("ABDEF")
    assert feed.users == {} and len(statements) == 2  # authors and organizations only


def test_an_empty_list_asks_nothing(db: Database) -> None:
    with db.reader() as session, counted(db) as statements:
        related = load_related(session, [])
    assert statements == []
    assert (related.authors, related.organizations, related.users) == ({}, {}, {})


def test_categories_come_in_one_more_query_primary_first(db: Database) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title=f"P{i}", abstract="a", arxiv_id=f"2411.0010{i}", feed_at=FEED_AT)
                for i in range(3)
            ],
        )
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="P0", abstract="a", arxiv_id="2411.00100", categories=["cs.CL", "cs.LG"]
                ),
                PaperRecord(title="P1", abstract="a", arxiv_id="2411.00101", categories=["hep-th"]),
            ],
        )
    with db.reader() as session:
        papers = list(session.execute(select(Paper).order_by(Paper.arxiv_id)).scalars())
        with counted(db) as without:
            assert load_related(session, papers, people=False).categories == {}
        with counted(db) as with_categories:
            tags = load_related(session, papers, people=False, categories=True).categories
        assert len(with_categories) == len(without) + 1
    by_paper = {p.arxiv_id: tags[p.id] for p in papers}
    assert [(t.code, t.primary, t.label) for t in by_paper["2411.00100"]] == [
        ("cs.CL", True, "Computation and Language (cs.CL)"),
        ("cs.LG", False, "Machine Learning (cs.LG)"),
    ]
    assert [t.name for t in by_paper["2411.00101"]] == ["High Energy Physics - Theory"]
    assert by_paper["2411.00102"] == []
