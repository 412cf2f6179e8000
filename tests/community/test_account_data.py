"""A member's data: the export lists what the site holds about them; deleting the account
removes it, keeps every displayed count true, and refuses an organization's last admin."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from paperfeed import outbox
from paperfeed.community import (
    account_data,
    accounts,
    api_tokens,
    claims,
    collections,
    comments,
    follows,
    organizations,
)
from paperfeed.community.votes import set_vote
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.digest import subscriptions as subs
from paperfeed.models import (
    ApiToken,
    AuthorClaim,
    Collection,
    CollectionItem,
    Comment,
    Follow,
    ModerationLog,
    OrgMembership,
    OutgoingMail,
    Paper,
    PaperAuthor,
    SavedSearch,
    Subscription,
    Upvote,
    User,
    WebSession,
)
from paperfeed.papers.counts import inconsistent
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers

PASSWORD = "long enough password"


@dataclass
class Site:
    db: Database
    ada: int
    bob: int
    first: int  # ada's comment on 2411.00001, which bob replied to
    lone: int  # ada's comment on 2411.00002, without replies


@pytest.fixture
def site(db: Database) -> Site:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Imported with votes",
                    abstract="x",
                    arxiv_id="2411.00001",
                    authors=["Ada Lovelace", "Charles Babbage"],
                    upvotes=40,
                ),
                PaperRecord(
                    title="Second paper", abstract="y", arxiv_id="2411.00002", authors=["A. L."]
                ),
            ],
        )
        papers = {pid: id_ for pid, id_ in session.execute(select(Paper.public_id, Paper.id))}
        ada = accounts.create_user(session, "ada", "ada@example.org", PASSWORD, verified=True)
        bob = accounts.create_user(session, "bob", "bob@example.org", PASSWORD, verified=True)
        admin = accounts.create_user(session, "root", "root@example.org", PASSWORD, role="admin")
        for paper_id in papers.values():
            set_vote(session, ada.id, paper_id, True)
        set_vote(session, bob.id, papers["2411.00001"], True)
        first = comments.add_comment(session, ada, papers["2411.00001"], "Ada's *point*")
        comments.add_comment(session, bob, papers["2411.00001"], "Bob agrees", first.id)
        lone = comments.add_comment(session, ada, papers["2411.00002"], "Ada again")
        comments.report_comment(session, bob, lone.id, "off topic")
        follows.follow(session, ada.id, "author", "Charles Babbage")
        api_tokens.create_token(session, ada, "laptop script")
        accounts.start_session(session, ada, "Firefox")
        claim = claims.submit(session, "2411.00001", ada, 0)
        claims.approve(session, claim.id, admin)
        claims.submit(session, "2411.00002", ada, 0)
        reading = collections.create(session, ada, "Reading list", private=True)
        collections.add(session, ada, reading, "2411.00002", note="read on Monday")
        outcome = subs.subscribe(session, "ada@example.org", user_id=ada.id, confirmed=True)
        subs.add_topic(session, outcome.subscription, "language models")
        ids = Site(db, ada.id, bob.id, first.id, lone.id)
    return ids


def user(site: Site, user_id: int) -> User:
    with site.db.reader() as session:
        found = session.get(User, user_id)
        assert found is not None
        return found


def test_the_export_lists_what_the_site_holds_about_the_member(site: Site) -> None:
    with site.db.reader() as session:
        document = account_data.export(session, user(site, site.ada))
    json.dumps(document)  # plain JSON all the way down
    assert document["format"] == "paperfeed-account-export"
    assert [s.name for s in account_data.SECTIONS] == [
        k for k in document if k not in ("format", "version", "exported_at")
    ]
    assert document["profile"]["username"] == "ada"
    assert document["profile"]["email"] == "ada@example.org"
    assert [v["paper"] for v in document["upvotes"]] == ["2411.00001", "2411.00002"]
    assert [c["body"] for c in document["comments"]] == ["Ada's *point*", "Ada again"]
    assert document["follows"] == [
        {"kind": "author", "target": "Charles Babbage", "since": document["follows"][0]["since"]}
    ]
    [subscription] = document["subscriptions"]
    assert subscription["email"] == "ada@example.org" and subscription["status"] == "active"
    assert [t["query"] for t in subscription["topics"]] == ["language models"]
    [token] = document["tokens"]
    assert token["name"] == "laptop script" and token["prefix"].startswith("pf_")
    assert "token_hash" not in token and "hash" not in json.dumps(document["tokens"])
    assert sorted(c["status"] for c in document["author_claims"]) == ["approved", "pending"]
    assert [s["user_agent"] for s in document["sessions"]] == ["Firefox"]
    [reading] = document["collections"]
    assert reading["title"] == "Reading list" and reading["private"] is True
    assert [(p["paper"], p["note"]) for p in reading["papers"]] == [
        ("2411.00002", "read on Monday")
    ]
    assert "feed_secret" not in reading
    # Nothing of anyone else: bob's reply and bob's report are not ada's.
    assert "Bob agrees" not in json.dumps(document)
    assert document["reports"] == []


def counts(db: Database) -> dict[str, tuple[int, int]]:
    with db.reader() as session:
        rows = session.execute(select(Paper.public_id, Paper.upvotes, Paper.comment_count))
        return {pid: (votes, talk) for pid, votes, talk in rows}


def rows_of(db: Database, model: Any, user_id: int) -> int:
    """How many rows of `model` (a table with a `user_id`) belong to the user."""
    with db.reader() as session:
        return session.execute(
            select(func.count()).select_from(model).where(model.user_id == user_id)
        ).scalar_one()


def test_deleting_and_keeping_comments_removes_the_rest_and_keeps_counts_true(
    site: Site,
) -> None:
    db = site.db
    before = counts(db)
    assert before == {"2411.00001": (42, 2), "2411.00002": (1, 1)}
    with db.transaction() as session:
        account_data.delete_account(session, user(site, site.ada), keep_comments=True)
    # One vote fewer on each paper, the imported baseline untouched; comments all kept.
    assert counts(db) == {"2411.00001": (41, 2), "2411.00002": (0, 1)}
    with db.reader() as session:
        assert inconsistent(session) == []
        assert session.get(User, site.ada) is None
        kept = session.execute(
            select(Comment.body, Comment.user_id).where(Comment.id.in_([site.first, site.lone]))
        ).all()
        assert sorted(kept) == [("Ada again", None), ("Ada's *point*", None)]
        first_paper = session.execute(
            select(Paper.id).where(Paper.public_id == "2411.00001")
        ).scalar_one()
        threads = comments.thread(session, first_paper, None)
        assert [(v.author, v.author_deleted) for v in threads] == [("deleted user", True)]
        assert [(r.author, r.author_deleted) for r in threads[0].replies] == [("bob", False)]
        for model in (Upvote, ApiToken, WebSession, Follow, AuthorClaim, Subscription):
            assert rows_of(db, model, site.ada) == 0, model
        assert session.execute(select(func.count()).select_from(Collection)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(CollectionItem)).scalar_one() == 0
        assert session.execute(select(PaperAuthor.user_id)).scalars().all() == [None] * 3
        # The digest subscription at her address ended, with its topics and ledger.
        assert session.execute(select(Subscription.email)).scalars().all() == []
        assert session.execute(select(func.count()).select_from(SavedSearch)).scalar_one() == 0
        entry = session.execute(
            select(ModerationLog).where(ModerationLog.action == "delete_account")
        ).scalar_one()
        assert entry.target_id == "ada" and entry.detail is not None
        assert entry.detail["comments"] == "kept" and entry.detail["upvotes"] == 2
        # Bob is untouched.
        assert rows_of(db, Upvote, site.bob) == 1


def test_deleting_and_removing_comments_leaves_replies_under_a_placeholder(site: Site) -> None:
    db = site.db
    with db.transaction() as session:
        account_data.delete_account(session, user(site, site.ada), keep_comments=False)
    # Ada's two comments no longer count; bob's reply does.
    assert counts(db) == {"2411.00001": (41, 1), "2411.00002": (0, 0)}
    with db.reader() as session:
        assert inconsistent(session) == []
        gone = session.execute(
            select(Comment.body, Comment.deleted_at.is_not(None), Comment.user_id).where(
                Comment.id.in_([site.first, site.lone])
            )
        ).all()
        assert gone == [("", True, None), ("", True, None)]
        first_paper = session.execute(
            select(Paper.id).where(Paper.public_id == "2411.00001")
        ).scalar_one()
        [top] = comments.thread(session, first_paper, None)
        assert top.deleted and top.author is None
        assert [(r.author, str(r.html)) for r in top.replies] == [("bob", "<p>Bob agrees</p>\n")]
        second = session.execute(
            select(Paper.id).where(Paper.public_id == "2411.00002")
        ).scalar_one()
        assert comments.thread(session, second, None) == []


def test_a_comment_on_a_removed_paper_is_removed_too(site: Site) -> None:
    db = site.db
    with db.transaction() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == "2411.00002")).scalar_one()
        paper.hidden_at = paper.created_at
        account_data.delete_account(session, user(site, site.ada), keep_comments=False)
    with db.reader() as session:
        assert session.get(Comment, site.lone).body == ""  # type: ignore[union-attr]  # kept as a soft delete
        assert inconsistent(session) == []


def test_the_last_admin_of_an_organization_is_asked_to_hand_over_first(site: Site) -> None:
    db = site.db
    with db.transaction() as session:
        ada, bob = user(site, site.ada), user(site, site.bob)
        org = organizations.create(session, ada, "acme", "Acme Labs")
        organizations.invite(session, org, ada, "bob")
        organizations.accept(session, org, bob)
    refused = pytest.raises(account_data.AccountDeletionRefused, match="last admin of “acme”")
    with refused as err, db.transaction() as session:
        account_data.delete_account(session, user(site, site.ada), keep_comments=True)
    assert err.value.status == 409 and "Hand it over first" in str(err.value)
    # Nothing was done: the transaction was refused before any change.
    assert counts(db)["2411.00001"] == (42, 2)
    assert rows_of(db, ApiToken, site.ada) == 1
    with db.transaction() as session:
        org = organizations.get(session, "acme")
        organizations.set_member_role(session, org, user(site, site.ada), "bob", "admin")
    with db.transaction() as session:
        account_data.delete_account(session, user(site, site.ada), keep_comments=True)
    with db.reader() as session:
        members = session.execute(select(OrgMembership.user_id)).scalars().all()
        assert members == [site.bob]


def test_mail_queued_for_the_account_goes_with_it(site: Site, settings: Settings) -> None:
    db = site.db
    with db.transaction() as session:
        outbox.enqueue(
            session, settings, kind="verify", user_id=site.ada, to="ada@example.org",
            subject="Confirm", text="link",
        )  # fmt: skip
    with db.transaction() as session:
        account_data.delete_account(session, user(site, site.ada), keep_comments=True)
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(OutgoingMail)).scalar_one() == 0


def test_mail_to_the_members_address_queued_without_the_account_goes_too(
    site: Site, settings: Settings
) -> None:
    """A digest's sign-in link is queued for an address, not an account."""
    db = site.db
    with db.transaction() as session:
        for to in ("Ada@Example.org", "bob@example.org"):
            outbox.enqueue(
                session, settings, kind="digest-link", user_id=None, to=to,
                subject="Your digest link", text="link",
            )  # fmt: skip
    with db.transaction() as session:
        account_data.delete_account(session, user(site, site.ada), keep_comments=True)
    with db.reader() as session:
        left = session.execute(select(OutgoingMail.to_address)).scalars().all()
    assert left == ["bob@example.org"]
