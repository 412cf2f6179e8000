"""A member's own data: everything paperfeed holds about them, as one JSON document, and
deleting their account.

The export is built from `SECTIONS`, one (name, builder) per kind of personal data, in the
order the document lists them. A feature that stores something about a member adds its
section with one line there; a builder reads with the caller's session and returns plain
JSON values (no secrets: tokens are listed by name, never by hash).

Deleting (`delete_account`) happens in the caller's one transaction, so it is all or
nothing:
- votes are taken back one by one through `votes.set_vote`, so each paper's `upvotes`
  count moves with its row and the paper's `change_seq` is bumped, as for any unvote;
- comments are kept, signed "deleted user" (`comments.user_id` becomes None, migration
  0016), or removed: each deleted as its author would delete it (soft, so replies by
  others keep their place under "[deleted]", and the paper's `comment_count` follows);
- tokens, sessions, follows, author claims (and the authorship they verified), queued
  and kept mail, and the digest subscription of the account or its confirmed address
  (with its topics and ledger) are removed; what else references the user goes with its
  row (ON DELETE CASCADE: memberships, submissions, reports, saved searches) or keeps
  the row without it (ON DELETE SET NULL: papers submitted, the moderation log);
- the deletion is written to the moderation log (who, and what was done with comments);
- an organization's last active admin is refused until they hand it over: an
  organization always keeps an admin (organizations.py), and deleting the account must
  not be the way around that rule.

A feature whose rows need more than the database's cascade (a count to keep, a file to
remove) adds a step to `ERASERS`, run before the user's row is deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from paperfeed import clock
from paperfeed.community import comments as comment_rules
from paperfeed.community.audit import log
from paperfeed.community.votes import set_vote
from paperfeed.errors import UserError
from paperfeed.models import (
    ApiToken,
    AuthorClaim,
    Collection,
    CollectionItem,
    Comment,
    Follow,
    Organization,
    OrgMembership,
    OutgoingMail,
    Paper,
    PaperAuthor,
    Report,
    SavedSearch,
    Submission,
    Subscription,
    Upvote,
    User,
    WebSession,
)
from paperfeed.papers.store import lock_changes, touch_paper

FORMAT = "paperfeed-account-export"
VERSION = 1

Json = dict[str, Any]


class AccountDeletionRefused(UserError):
    """The account cannot be deleted yet; the message says what to do first."""

    status = 409


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- the sections of the export --------------------------------------------------------------


def _profile(session: Session, user: User) -> Json:
    return {
        "username": user.username,
        "email": user.email,
        "email_confirmed_at": _iso(user.email_verified_at),
        "fullname": user.fullname,
        "avatar_url": user.avatar_url,
        "role": user.role,
        "upvotes_public": user.upvotes_public,
        "created_at": _iso(user.created_at),
    }


def _upvotes(session: Session, user: User) -> list[Json]:
    rows = session.execute(
        select(Paper.public_id, Paper.title, Upvote.created_at)
        .join(Upvote, Upvote.paper_id == Paper.id)
        .where(Upvote.user_id == user.id)
        .order_by(Upvote.created_at, Paper.public_id)
    ).all()
    return [{"paper": pid, "title": title, "at": _iso(at)} for pid, title, at in rows]


def _comments(session: Session, user: User) -> list[Json]:
    rows = session.execute(
        select(Comment, Paper.public_id)
        .join(Paper, Paper.id == Comment.paper_id)
        .where(Comment.user_id == user.id)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    return [
        {
            "id": comment.id,
            "paper": paper_id,
            "reply_to": comment.parent_id,
            "body": comment.body,
            "created_at": _iso(comment.created_at),
            "edited_at": _iso(comment.edited_at),
            "deleted_at": _iso(comment.deleted_at),
            "hidden_at": _iso(comment.hidden_at),
            "hidden_reason": comment.hidden_reason,
        }
        for comment, paper_id in rows
    ]


def _follows(session: Session, user: User) -> list[Json]:
    rows = session.execute(
        select(Follow).where(Follow.user_id == user.id).order_by(Follow.kind, Follow.target)
    ).scalars()
    return [{"kind": f.kind, "target": f.target, "since": _iso(f.created_at)} for f in rows]


def _collections(session: Session, user: User) -> list[Json]:
    """The member's collections in their order, with every paper and note (the private
    feed's secret address is left out, like a token)."""
    result = []
    owned = session.execute(
        select(Collection)
        .where(Collection.owner_id == user.id)
        .order_by(Collection.position, Collection.id)
    ).scalars()
    for collection in owned:
        items = session.execute(
            select(CollectionItem, Paper.public_id, Paper.title)
            .join(Paper, Paper.id == CollectionItem.paper_id)
            .where(CollectionItem.collection_id == collection.id)
            .order_by(CollectionItem.position, CollectionItem.id)
        ).all()
        result.append(
            {
                "title": collection.title,
                "slug": collection.slug,
                "description": collection.description,
                "private": collection.private,
                "saved": collection.saved,
                "created_at": _iso(collection.created_at),
                "updated_at": _iso(collection.updated_at),
                "papers": [
                    {
                        "paper": pid,
                        "title": title,
                        "note": item.note,
                        "added_at": _iso(item.added_at),
                    }
                    for item, pid, title in items
                ],
            }
        )
    return result


def _subscriptions(session: Session, user: User) -> list[Json]:
    result = []
    for row in _own_subscriptions(session, user):
        topics = session.execute(
            select(SavedSearch)
            .where(SavedSearch.subscription_id == row.id)
            .order_by(SavedSearch.id)
        ).scalars()
        result.append(
            {
                "email": row.email,
                "frequency": row.frequency,
                "status": row.status,
                "include_trending": row.include_trending,
                "skip_weekends": row.skip_weekends,
                "created_at": _iso(row.created_at),
                "confirmed_at": _iso(row.confirmed_at),
                "unsubscribed_at": _iso(row.unsubscribed_at),
                "topics": [
                    {"name": t.name, "query": t.query, "filters": t.filters} for t in topics
                ],
            }
        )
    return result


def _tokens(session: Session, user: User) -> list[Json]:
    rows = session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at)
    ).scalars()
    return [
        {
            "name": t.name,
            "prefix": t.prefix,
            "created_at": _iso(t.created_at),
            "last_used_at": _iso(t.last_used_at),
            "revoked_at": _iso(t.revoked_at),
        }
        for t in rows
    ]


def _submissions(session: Session, user: User) -> list[Json]:
    rows = session.execute(
        select(Submission).where(Submission.user_id == user.id).order_by(Submission.created_at)
    ).scalars()
    return [
        {"arxiv_id": s.arxiv_id, "status": s.status, "reason": s.reason, "at": _iso(s.created_at)}
        for s in rows
    ]


def _claims(session: Session, user: User) -> list[Json]:
    rows = session.execute(
        select(AuthorClaim, Paper.public_id, PaperAuthor.name)
        .join(Paper, Paper.id == AuthorClaim.paper_id)
        .outerjoin(
            PaperAuthor,
            (PaperAuthor.paper_id == AuthorClaim.paper_id)
            & (PaperAuthor.position == AuthorClaim.author_position),
        )
        .where(AuthorClaim.user_id == user.id)
        .order_by(AuthorClaim.created_at)
    ).all()
    return [
        {"paper": pid, "author": name, "status": claim.status, "at": _iso(claim.created_at)}
        for claim, pid, name in rows
    ]


def _organizations(session: Session, user: User) -> list[Json]:
    rows = session.execute(
        select(Organization.name, OrgMembership.role, OrgMembership.status)
        .join(OrgMembership, OrgMembership.organization_id == Organization.id)
        .where(OrgMembership.user_id == user.id)
        .order_by(Organization.name)
    ).all()
    return [{"name": name, "role": role, "status": status} for name, role, status in rows]


def _reports(session: Session, user: User) -> list[Json]:
    paper = aliased(Paper)
    rows = session.execute(
        select(Report, paper.public_id)
        .outerjoin(paper, paper.id == Report.paper_id)
        .where(Report.reporter_id == user.id)
        .order_by(Report.created_at)
    ).all()
    return [
        {
            "comment": report.comment_id,
            "paper": paper_id,
            "reason": report.reason,
            "at": _iso(report.created_at),
            "resolution": report.resolution,
        }
        for report, paper_id in rows
    ]


def _sessions(session: Session, user: User) -> list[Json]:
    rows = session.execute(
        select(WebSession).where(WebSession.user_id == user.id).order_by(WebSession.created_at)
    ).scalars()
    return [
        {
            "signed_in_at": _iso(s.created_at),
            "last_seen_at": _iso(s.last_seen_at),
            "user_agent": s.user_agent,
        }
        for s in rows
    ]


@dataclass(frozen=True)
class Section:
    name: str
    build: Callable[[Session, User], Any]


SECTIONS: list[Section] = [
    Section("profile", _profile),
    Section("upvotes", _upvotes),
    Section("comments", _comments),
    Section("collections", _collections),
    Section("follows", _follows),
    Section("subscriptions", _subscriptions),
    Section("tokens", _tokens),
    Section("submissions", _submissions),
    Section("author_claims", _claims),
    Section("organizations", _organizations),
    Section("reports", _reports),
    Section("sessions", _sessions),
]


def export(session: Session, user: User) -> Json:
    """Everything paperfeed holds about the member, one key per section."""
    document: Json = {"format": FORMAT, "version": VERSION, "exported_at": _iso(clock.now())}
    for section in SECTIONS:
        document[section.name] = section.build(session, user)
    return document


# --- deleting ---------------------------------------------------------------------------------


def _own_subscriptions(session: Session, user: User) -> list[Subscription]:
    """The account's digest subscriptions: linked to it, or at its address once the account
    has proved it owns that address (digest/subscriptions.py `for_user`'s rule)."""
    mine = Subscription.user_id == user.id
    if user.email_verified_at is not None:
        mine = or_(mine, Subscription.email == user.email.lower())
    return list(session.execute(select(Subscription).where(mine)).scalars())


def handover_needed(session: Session, user: User) -> list[str]:
    """The organizations the member is the last active admin of, by name; locks their rows
    so no other admin can leave while the caller decides."""
    memberships = session.execute(
        select(Organization.id, Organization.name)
        .join(OrgMembership, OrgMembership.organization_id == Organization.id)
        .where(
            OrgMembership.user_id == user.id,
            OrgMembership.role == "admin",
            OrgMembership.status == "active",
        )
        .order_by(Organization.name)
    ).all()
    last = []
    for org_id, name in memberships:
        session.execute(select(Organization.id).where(Organization.id == org_id).with_for_update())
        admins = session.execute(
            select(func.count())
            .select_from(OrgMembership)
            .where(
                OrgMembership.organization_id == org_id,
                OrgMembership.role == "admin",
                OrgMembership.status == "active",
            )
        ).scalar_one()
        if admins <= 1:
            last.append(name)
    return last


def _refuse_last_admin(session: Session, user: User) -> None:
    names = handover_needed(session, user)
    if not names:
        return
    listed = ", ".join(f"“{name}”" for name in names)
    which = "that organization" if len(names) == 1 else "each of them"
    raise AccountDeletionRefused(
        f"You are the last admin of {listed}. Hand it over first: make another member an "
        f"admin of {which} on its members page, then delete your account."
    )


def _take_back_votes(session: Session, user: User) -> int:
    papers = list(
        session.execute(select(Upvote.paper_id).where(Upvote.user_id == user.id)).scalars()
    )
    for paper_id in papers:
        set_vote(session, user.id, paper_id, False)
    return len(papers)


def _settle_comments(session: Session, user: User, keep: bool) -> int:
    """Keep the member's comments without an author, or delete each (soft) as they could."""
    own = list(session.execute(select(Comment).where(Comment.user_id == user.id)).scalars())
    if keep:
        # The pages that show them now sign them "deleted user": new validators.
        for paper_id in sorted({c.paper_id for c in own if c.deleted_at is None}):
            paper = session.get(Paper, paper_id)
            assert paper is not None  # the foreign key guarantees it
            touch_paper(session, paper)
    else:
        for comment in own:
            if comment.deleted_at is None:
                comment_rules.erase(session, comment)
    session.execute(update(Comment).where(Comment.user_id == user.id).values(user_id=None))
    return len(own)


def _remove_claims(session: Session, user: User) -> None:
    verified = list(
        session.execute(select(PaperAuthor).where(PaperAuthor.user_id == user.id)).scalars()
    )
    for author in verified:
        author.user_id = None
    for paper_id in sorted({author.paper_id for author in verified}):
        paper = session.get(Paper, paper_id)
        assert paper is not None  # the foreign key guarantees it
        touch_paper(session, paper)
    session.execute(delete(AuthorClaim).where(AuthorClaim.user_id == user.id))


def _remove_access_and_mail(session: Session, user: User) -> None:
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.execute(delete(Follow).where(Follow.user_id == user.id))
    subscriptions = list(_own_subscriptions(session, user))
    # Mail to the member's own addresses queued without the account (a digest's link); an
    # address never confirmed may be someone else's, so their mail stays.
    addresses = {sub.email.lower() for sub in subscriptions}
    if user.email_verified_at is not None:
        addresses.add(user.email.lower())
    session.execute(
        delete(OutgoingMail).where(
            (OutgoingMail.user_id == user.id) | func.lower(OutgoingMail.to_address).in_(addresses)
        )
    )
    for subscription in subscriptions:
        session.execute(delete(SavedSearch).where(SavedSearch.subscription_id == subscription.id))
        session.delete(subscription)


# Steps run before the user's row goes, each (session, user): rows that need more than the
# database's ON DELETE rule.
ERASERS: list[Callable[[Session, User], None]] = []


def delete_account(session: Session, user: User, keep_comments: bool) -> None:
    """Delete the member's account and their data, in the caller's transaction.

    AccountDeletionRefused while they are the last admin of an organization. Call at the
    start of a transaction: it takes the change counter's lock first, like every writer of
    rows that reference papers.
    """
    lock_changes(session)
    me = session.get(User, user.id)
    if me is None:
        raise AccountDeletionRefused("This account no longer exists.")
    _refuse_last_admin(session, me)
    votes = _take_back_votes(session, me)
    comments = _settle_comments(session, me, keep_comments)
    _remove_claims(session, me)
    _remove_access_and_mail(session, me)
    for step in ERASERS:
        step(session, me)
    log(
        session,
        None,
        "delete_account",
        "user",
        me.username,
        detail={
            "comments": "kept" if keep_comments else "removed",
            "comment_count": comments,
            "upvotes": votes,
        },
    )
    session.delete(me)
    session.flush()
