"""Author claims on both backends: who may claim which slot, and what approving and
rejecting change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from paperfeed.community import accounts, claims
from paperfeed.db import Database
from paperfeed.models import AuthorClaim, ModerationLog, Paper, PaperAuthor, User
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import current_change_seq, upsert_papers

PASSWORD = "long enough password"
AUTHORS = ["Ada Lovelace", "Grace Hopper", "Linus Torvalds"]


@pytest.fixture
def site(db: Database) -> dict[str, User]:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Notes on the engine",
                    abstract="x",
                    arxiv_id="2401.00001",
                    authors=AUTHORS,
                ),
                PaperRecord(title="Anonymous", abstract="y", arxiv_id="2401.00002"),
            ],
        )
        users = {
            name: accounts.create_user(session, name, f"{name}@example.org", PASSWORD, role=role)
            for name, role in (("ada", "user"), ("grace", "user"), ("root", "admin"))
        }
    return users


def submit(db: Database, user: User, position: int, paper: str = "2401.00001") -> int:
    with db.transaction() as session:
        return claims.submit(session, paper, user, position).id


def decide(db: Database, verb: str, claim_id: int, actor: User, reason: str = "") -> None:
    with db.transaction() as session:
        if verb == "approve":
            claims.approve(session, claim_id, actor)
        else:
            claims.reject(session, claim_id, actor, reason)


def author_users(db: Database) -> dict[str, int | None]:
    with db.reader() as session:
        return dict(
            session.execute(
                select(PaperAuthor.name, PaperAuthor.user_id)
                .join(Paper, Paper.id == PaperAuthor.paper_id)
                .where(Paper.public_id == "2401.00001")
            ).all()
        )


def test_a_claim_is_pending_until_an_admin_approves(db: Database, site) -> None:  # type: ignore[no-untyped-def]
    ada, root = site["ada"], site["root"]
    claim_id = submit(db, ada, 0)
    with db.reader() as session:
        claim = session.get(AuthorClaim, claim_id)
        assert (claim.status, claim.author_position, claim.decided_by_id) == ("pending", 0, None)
        [item] = claims.queue(session)
        assert (item.username, item.author_name, item.paper_public_id) == (
            "ada",
            "Ada Lovelace",
            "2401.00001",
        )
        seq_before = current_change_seq(session)[0]
    assert author_users(db)["Ada Lovelace"] is None
    decide(db, "approve", claim_id, root)
    assert author_users(db) == {
        "Ada Lovelace": ada.id,
        "Grace Hopper": None,
        "Linus Torvalds": None,
    }
    with db.reader() as session:
        claim = session.get(AuthorClaim, claim_id)
        assert (claim.status, claim.decided_by_id) == ("approved", root.id)
        assert claim.decided_at is not None
        paper = session.execute(select(Paper).where(Paper.public_id == "2401.00001")).scalar_one()
        assert paper.change_seq > seq_before  # feeds, ETags and the index notice
        entry = session.execute(select(ModerationLog)).scalar_one()
        assert (entry.actor_id, entry.action, entry.target_type, entry.target_id) == (
            root.id,
            "approve_claim",
            "claim",
            str(claim_id),
        )
        assert entry.detail == {"paper": "2401.00001", "author": "Ada Lovelace", "user": "ada"}
        assert claims.queue(session) == []
        assert [i.claim.status for i in claims.queue(session, "decided")] == ["approved"]


def test_one_pending_claim_per_user_per_paper(db: Database, site) -> None:  # type: ignore[no-untyped-def]
    submit(db, site["ada"], 0)
    with pytest.raises(claims.ClaimError, match="waiting for review"):
        submit(db, site["ada"], 1)
    with pytest.raises(claims.ClaimError, match="waiting for review"):
        submit(db, site["ada"], 0, paper="2401.00001v2")
    with db.reader() as session:
        assert len(session.execute(select(AuthorClaim)).all()) == 1


def test_a_slot_claimed_by_someone_else_cannot_be_claimed(db: Database, site) -> None:  # type: ignore[no-untyped-def]
    ada, grace, root = site["ada"], site["grace"], site["root"]
    claim_id = submit(db, ada, 0)
    with pytest.raises(claims.ClaimError, match="Someone else"):
        submit(db, grace, 0)
    with db.reader() as session:
        paper = claims.find_paper(session, "2401.00001")
        taken = {s.name: (s.taken, s.mine) for s in claims.slots(session, paper, grace)}
        assert taken["Ada Lovelace"] == (True, None)
        mine = {s.name: (s.taken, s.mine) for s in claims.slots(session, paper, ada)}
        assert mine["Ada Lovelace"] == (False, "pending")
    decide(db, "approve", claim_id, root)
    with pytest.raises(claims.ClaimError, match="already claimed"):
        submit(db, grace, 0)
    with pytest.raises(claims.ClaimError, match="already the verified author"):
        submit(db, ada, 1)
    submit(db, grace, 1)  # another slot is fine


@pytest.mark.parametrize(
    ("paper", "position", "error", "message"),
    [
        ("2401.00001", 7, claims.ClaimError, "listed authors"),
        ("2401.00001", -1, claims.ClaimError, "listed authors"),
        ("2401.00002", 0, claims.ClaimError, "listed authors"),
        ("2401.99999", 0, claims.ClaimNotFound, "no paper"),
    ],
)
def test_bad_claims_are_refused(  # type: ignore[no-untyped-def]
    db: Database, site, paper: str, position: int, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        submit(db, site["ada"], position, paper=paper)
    with db.reader() as session:
        assert session.execute(select(AuthorClaim)).first() is None


def test_a_versioned_id_finds_the_paper(db: Database, site) -> None:  # type: ignore[no-untyped-def]
    claim_id = submit(db, site["ada"], 2, paper="2401.00001v3")
    with db.reader() as session:
        assert session.get(AuthorClaim, claim_id).author_position == 2


def test_hidden_papers_cannot_be_claimed(db: Database, site) -> None:  # type: ignore[no-untyped-def]
    from paperfeed.community import moderation

    with db.transaction() as session:
        moderation.hide_paper(session, "2401.00001", site["root"], "spam")
    with pytest.raises(claims.ClaimNotFound):
        submit(db, site["ada"], 0)


def test_rejecting_logs_the_reason_and_allows_a_new_claim(db: Database, site) -> None:  # type: ignore[no-untyped-def]
    ada, root = site["ada"], site["root"]
    claim_id = submit(db, ada, 0)
    decide(db, "reject", claim_id, root, "  not the same person  ")
    assert author_users(db)["Ada Lovelace"] is None
    with db.reader() as session:
        claim = session.get(AuthorClaim, claim_id)
        assert (claim.status, claim.decided_by_id) == ("rejected", root.id)
        entry = session.execute(select(ModerationLog)).scalar_one()
        assert (entry.action, entry.reason) == ("reject_claim", "not the same person")
    with pytest.raises(claims.ClaimError, match="already rejected"):
        decide(db, "approve", claim_id, root)
    with pytest.raises(claims.ClaimNotFound):
        decide(db, "approve", 9999, root)
    # The same slot again reopens the row (the key stays unique); it can then be approved.
    again = submit(db, ada, 0)
    assert again == claim_id
    decide(db, "approve", again, root)
    assert author_users(db)["Ada Lovelace"] == ada.id


def test_approving_one_claim_rejects_its_rivals(db: Database, site) -> None:  # type: ignore[no-untyped-def]
    ada, grace, root = site["ada"], site["grace"], site["root"]
    first = submit(db, ada, 1)
    # A rival claim for the same slot can only exist if it was made before a rule changed
    # or by an admin tool; make one directly to check that approval settles it.
    with db.transaction() as session:
        paper_id = session.execute(
            select(Paper.id).where(Paper.public_id == "2401.00001")
        ).scalar_one()
        rival = AuthorClaim(
            paper_id=paper_id,
            user_id=grace.id,
            author_position=1,
            created_at=session.get(AuthorClaim, first).created_at,
        )
        session.add(rival)
        session.flush()
        rival_id = rival.id
    decide(db, "approve", first, root)
    with db.reader() as session:
        assert session.get(AuthorClaim, rival_id).status == "rejected"
        actions = session.execute(select(ModerationLog.action).order_by(ModerationLog.id)).all()
        assert [a for (a,) in actions] == ["approve_claim", "reject_claim"]
    with pytest.raises(claims.ClaimError, match="already rejected"):
        decide(db, "approve", rival_id, root)


def test_reasons_are_bounded(db: Database, site) -> None:  # type: ignore[no-untyped-def]
    claim_id = submit(db, site["ada"], 0)
    with pytest.raises(claims.ClaimError, match="limited"):
        decide(db, "reject", claim_id, site["root"], "x" * 501)
    with db.reader() as session:
        assert session.get(AuthorClaim, claim_id).status == "pending"
