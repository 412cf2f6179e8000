"""Author claims: a user says "I am author N of this paper", and an admin checks.

Rules:
- one pending claim per user per paper, and none once the user is a verified author of it;
- an author slot that is verified for, or pending for, someone else cannot be claimed;
- approving sets `PaperAuthor.user_id` (the paper then lists on the user's profile), touches
  the paper so feeds and caches notice, and rejects the other pending claims for that slot;
- a rejected claim may be made again later (its row is reopened), which keeps the
  (paper, position, user) key unique;
- every decision goes to the moderation log.

Claims reference papers, so every writer takes `lock_changes` first: that also serializes
two people claiming the same slot at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from paperfeed import clock
from paperfeed.community.audit import log
from paperfeed.community.limits import Limit
from paperfeed.errors import NotFound, UserError
from paperfeed.models import AuthorClaim, Paper, PaperAuthor, User
from paperfeed.papers.lookup import visible_paper
from paperfeed.papers.store import lock_changes, touch_paper

CLAIM_LIMIT = Limit("claim", 30, 86400)
MAX_REASON = 500


class ClaimError(UserError):
    """A claim that cannot be made or decided; the message says why."""

    status = 400


class ClaimNotFound(ClaimError, NotFound):
    status = 404


@dataclass
class Slot:
    """One author of a paper, as the claim form shows it."""

    position: int
    name: str
    taken: bool  # verified for, or claimed by, someone else
    mine: str | None  # "approved" or "pending" when it is the viewer's


@dataclass
class QueueItem:
    claim: AuthorClaim
    paper_public_id: str
    paper_title: str
    author_name: str
    username: str
    decided_by: str | None


def find_paper(session: Session, paper_id: str) -> Paper:
    """A visible paper by any id form the other paper routes take (`canonical_id`)."""
    return visible_paper(
        session, paper_id, selectinload(Paper.authors), missing=ClaimNotFound
    ).paper


def slots(session: Session, paper: Paper, user: User) -> list[Slot]:
    pending = {
        (position, user_id)
        for position, user_id in session.execute(
            select(AuthorClaim.author_position, AuthorClaim.user_id).where(
                AuthorClaim.paper_id == paper.id, AuthorClaim.status == "pending"
            )
        )
    }
    result = []
    for author in paper.authors:
        if author.hidden:
            continue
        others_pending = any(pos == author.position and uid != user.id for pos, uid in pending)
        mine = None
        if author.user_id == user.id:
            mine = "approved"
        elif (author.position, user.id) in pending:
            mine = "pending"
        taken = (author.user_id is not None and author.user_id != user.id) or others_pending
        result.append(Slot(author.position, author.name, taken, mine))
    return result


def submit(session: Session, paper_id: str, user: User, position: int) -> AuthorClaim:
    """Record a pending claim. Call at the start of a transaction (it locks first)."""
    lock_changes(session)
    paper = find_paper(session, paper_id)
    author = next((a for a in paper.authors if a.position == position and not a.hidden), None)
    if author is None:
        raise ClaimError("Choose one of the paper's listed authors.")
    verified = next((a for a in paper.authors if a.user_id == user.id), None)
    if verified is not None:
        raise ClaimError(f"You are already the verified author “{verified.name}” of this paper.")
    mine = session.execute(
        select(AuthorClaim).where(
            AuthorClaim.paper_id == paper.id,
            AuthorClaim.user_id == user.id,
            AuthorClaim.status == "pending",
        )
    ).scalar_one_or_none()
    if mine is not None:
        raise ClaimError("You already have a claim on this paper waiting for review.")
    if author.user_id is not None:
        raise ClaimError(f"“{author.name}” is already claimed by another user.")
    someone_else = session.execute(
        select(AuthorClaim.id).where(
            AuthorClaim.paper_id == paper.id,
            AuthorClaim.author_position == position,
            AuthorClaim.status == "pending",
        )
    ).first()
    if someone_else is not None:
        raise ClaimError(f"Someone else has already claimed “{author.name}”; it is under review.")
    now = clock.now()
    earlier = session.execute(
        select(AuthorClaim).where(
            AuthorClaim.paper_id == paper.id,
            AuthorClaim.author_position == position,
            AuthorClaim.user_id == user.id,
        )
    ).scalar_one_or_none()
    if earlier is not None:
        earlier.status, earlier.created_at = "pending", now
        earlier.decided_at = earlier.decided_by_id = None
        return earlier
    claim = AuthorClaim(
        paper_id=paper.id, user_id=user.id, author_position=position, created_at=now
    )
    session.add(claim)
    session.flush()
    return claim


def _pending(session: Session, claim_id: int) -> AuthorClaim:
    claim = session.get(AuthorClaim, claim_id)
    if claim is None:
        raise ClaimNotFound(f"There is no claim number {claim_id}.")
    if claim.status != "pending":
        raise ClaimError(f"Claim {claim_id} was already {claim.status}.")
    return claim


def _decide(claim: AuthorClaim, status: str, actor: User, now: datetime) -> None:
    claim.status, claim.decided_at, claim.decided_by_id = status, now, actor.id


def approve(session: Session, claim_id: int, actor: User) -> AuthorClaim:
    """Verify the claimant as that author. Call at the start of a transaction."""
    lock_changes(session)
    claim = _pending(session, claim_id)
    paper = session.get(Paper, claim.paper_id)
    author = session.get(PaperAuthor, (claim.paper_id, claim.author_position))
    if paper is None or author is None:
        raise ClaimError("The paper's author list changed; this claim no longer matches it.")
    if author.user_id is not None and author.user_id != claim.user_id:
        raise ClaimError(f"“{author.name}” is already verified as another user; reject this one.")
    claimant = session.get(User, claim.user_id)
    now = clock.now()
    author.user_id = claim.user_id
    _decide(claim, "approved", actor, now)
    touch_paper(session, paper)
    detail = {
        "paper": paper.public_id,
        "author": author.name,
        "user": claimant.username if claimant else str(claim.user_id),
    }
    log(session, actor, "approve_claim", "claim", str(claim.id), detail=detail)
    rivals = session.execute(
        select(AuthorClaim).where(
            AuthorClaim.paper_id == claim.paper_id,
            AuthorClaim.author_position == claim.author_position,
            AuthorClaim.status == "pending",
            AuthorClaim.id != claim.id,
        )
    ).scalars()
    for rival in rivals:
        _decide(rival, "rejected", actor, now)
        log(
            session,
            actor,
            "reject_claim",
            "claim",
            str(rival.id),
            reason="another claim for this author was approved",
            detail={"paper": paper.public_id, "author": author.name},
        )
    return claim


def reject(session: Session, claim_id: int, actor: User, reason: str = "") -> AuthorClaim:
    """Turn a claim down. Call at the start of a transaction."""
    lock_changes(session)
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ClaimError(f"Reasons are limited to {MAX_REASON} characters.")
    claim = _pending(session, claim_id)
    paper = session.get(Paper, claim.paper_id)
    author = session.get(PaperAuthor, (claim.paper_id, claim.author_position))
    _decide(claim, "rejected", actor, clock.now())
    detail = {
        "paper": paper.public_id if paper else str(claim.paper_id),
        "author": author.name if author else str(claim.author_position),
    }
    log(
        session, actor, "reject_claim", "claim", str(claim.id), reason=reason or None, detail=detail
    )
    return claim


def queue(session: Session, status: str = "pending", limit: int = 100) -> list[QueueItem]:
    """Claims with what an admin needs to judge them: oldest pending first, newest decided."""
    claimant, decider = aliased(User), aliased(User)
    order = AuthorClaim.created_at if status == "pending" else AuthorClaim.decided_at.desc()
    rows = session.execute(
        select(
            AuthorClaim,
            Paper.public_id,
            Paper.title,
            PaperAuthor.name,
            claimant.username,
            decider.username,
        )
        .join(Paper, Paper.id == AuthorClaim.paper_id)
        .join(claimant, claimant.id == AuthorClaim.user_id)
        .outerjoin(
            PaperAuthor,
            (PaperAuthor.paper_id == AuthorClaim.paper_id)
            & (PaperAuthor.position == AuthorClaim.author_position),
        )
        .outerjoin(decider, decider.id == AuthorClaim.decided_by_id)
        .where(
            AuthorClaim.status == "pending"
            if status == "pending"
            else AuthorClaim.status != "pending"
        )
        .order_by(order, AuthorClaim.id)
        .limit(limit)
    ).all()
    return [
        QueueItem(claim, public_id, title, name or "(author removed)", username, decided)
        for claim, public_id, title, name, username, decided in rows
    ]
