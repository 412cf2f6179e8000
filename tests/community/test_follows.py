"""Following: validation, canonical targets, idempotence, the per-account cap."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from paperfeed.community import accounts, follows, organizations
from paperfeed.community.follows import FollowError, FollowTargetNotFound
from paperfeed.db import Database
from paperfeed.models import Follow
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers


def make_user(db: Database) -> int:
    with db.transaction() as session:
        user = accounts.create_user(session, "reader", "r@example.org", "long enough pw")
        organizations.create(session, user, "acme-lab")
        return user.id


def test_follow_is_canonical_and_idempotent(db: Database) -> None:
    user = make_user(db)
    with db.transaction() as session:
        assert follows.follow(session, user, "category", "math.IT").target == "cs.IT"
        assert follows.follow(session, user, "category", "cs.it").target == "cs.IT"
        assert follows.follow(session, user, "category", "hep-th").target == "hep-th"
        assert follows.follow(session, user, "organization", "ACME-LAB").target == "acme-lab"
        assert follows.follow(session, user, "author", "  Edmond  L. Berger ").target == (
            "Edmond L. Berger"
        )
        follows.follow(session, user, "author", "Edmond L. Berger")
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Follow)).scalar_one() == 4
        assert follows.followed_set(session, user) == {
            ("category", "cs.IT"),
            ("category", "hep-th"),
            ("organization", "acme-lab"),
            ("author", "Edmond L. Berger"),
        }
        groups = follows.grouped(follows.list_follows(session, user))
        assert list(groups) == ["author", "organization", "category"]
    with db.transaction() as session:
        assert follows.unfollow(session, user, "category", "math.IT") is True
        assert follows.unfollow(session, user, "category", "cs.IT") is False


@pytest.mark.parametrize(
    ("kind", "target", "error"),
    [
        ("user", "someone", FollowError),
        ("category", "cs.NOPE", FollowTargetNotFound),
        ("organization", "no-such-org", FollowTargetNotFound),
        ("author", "   ", FollowError),
        ("author", "x" * 301, FollowError),
    ],
)
def test_bad_follows_are_refused(db: Database, kind: str, target: str, error: type) -> None:
    user = make_user(db)
    with db.transaction() as session, pytest.raises(error):
        follows.follow(session, user, kind, target)


def test_the_cap_on_follows(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    user = make_user(db)
    monkeypatch.setattr(follows, "MAX_FOLLOWS", 3)
    with db.transaction() as session:
        for name in ("A One", "B Two", "C Three"):
            follows.follow(session, user, "author", name)
        follows.follow(session, user, "author", "A One")  # already followed: still fine
        with pytest.raises(FollowError) as refused:
            follows.follow(session, user, "author", "D Four")
        assert refused.value.status == 409 and "Unfollow" in str(refused.value)


def test_an_author_is_followed_by_the_name_of_their_page(db: Database) -> None:
    user = make_user(db)
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title=title, abstract="a", authors=authors, categories=["hep-ph"])
                for title, authors in [
                    ("Full", ["Edmond L. Berger", "Bo Li"]),
                    ("Initials", ["E. L. Berger", "Bo Li"]),
                ]
            ],
        )
    with db.transaction() as session:
        for spelling in ("E. L. Berger", "edmond l. berger", "Edmond L. Berger"):
            assert follows.follow(session, user, "author", spelling).target == "Edmond L. Berger"
        # Someone with no paper here yet is followed as written.
        assert follows.follow(session, user, "author", "New  Person").target == "New Person"
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Follow)).scalar_one() == 2
    with db.transaction() as session:
        assert (
            follows.unfollow(session, user, "author", "Berger, E.L.") is False
        )  # on no paper: as written
        assert follows.unfollow(session, user, "author", "E. L. Berger") is True
