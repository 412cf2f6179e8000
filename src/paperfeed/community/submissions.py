"""Submitting a paper to the daily feed by arXiv id, with rules like Hugging Face's.

- the paper must be recent: its first version, or its latest version (a v2 submitted
  within the window of its own date), at most `submission_window_days` (14) old;
- a paper already on the feed is not added twice: the submission counts as an upvote;
- a user may submit `submission_daily_cap` papers per 24 hours; admins are exempt;
- the paper enters today's feed "submitted by" the user, optionally tagged with an
  organization the user is an active member of, and with the code and project-page links
  the user gave (checked by `paper_links` before arXiv is asked; they win over found ones);
- links given with a duplicate are used only if the user may change that paper's links.

Looking the paper up on arXiv happens before any transaction opens, so no lock is held
while waiting on the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community import paper_links
from paperfeed.community.votes import set_vote
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.errors import UserError
from paperfeed.models import Organization, OrgMembership, Paper, Submission, User
from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.papers.records import OrganizationRef, PaperRecord
from paperfeed.papers.store import touch_paper, upsert_papers
from paperfeed.plurals import plural

Status = Literal["accepted", "duplicate", "rejected"]


class Lookup(Protocol):
    def fetch_one(self, arxiv_id: str) -> PaperRecord: ...


class SubmissionError(UserError):
    """The submission breaks a rule; the message says which and what to do."""


@dataclass
class Outcome:
    status: Status
    public_id: str
    message: str
    links_ignored: bool = False  # a duplicate's links, which the user may not set


def _already_on_feed(session: Session, arxiv_id: str) -> Paper | None:
    return session.execute(
        select(Paper).where(Paper.arxiv_id == arxiv_id, Paper.feed_at.is_not(None))
    ).scalar_one_or_none()


def _check_cap(session: Session, settings: Settings, user: User) -> None:
    if user.role == "admin":
        return
    since = clock.now() - timedelta(days=1)
    count = session.execute(
        select(func.count())
        .select_from(Submission)
        .where(
            Submission.user_id == user.id,
            Submission.status == "accepted",
            Submission.created_at > since,
        )
    ).scalar_one()
    if count >= settings.submission_daily_cap:
        raise SubmissionError(
            f"You have submitted {plural(count, 'paper')} in the last 24 hours, the most allowed. "
            "Try again tomorrow."
        )


def _organization(session: Session, user: User, name: str | None) -> Organization | None:
    if not name:
        return None
    org = session.execute(
        select(Organization).where(Organization.name == name)
    ).scalar_one_or_none()
    member = (
        org is not None
        and session.execute(
            select(OrgMembership).where(
                OrgMembership.organization_id == org.id,
                OrgMembership.user_id == user.id,
                OrgMembership.status == "active",
            )
        ).first()
        is not None
    )
    if not member:
        raise SubmissionError(f"You are not a member of the organization “{name}”.")
    return org


def _check_window(settings: Settings, record: PaperRecord) -> None:
    window = timedelta(days=settings.submission_window_days)
    dates = [v.submitted_at for v in record.versions] or [
        d for d in (record.published_at, record.updated_at) if d
    ]
    if not dates:
        raise SubmissionError("arXiv gave no date for this paper, so it cannot be submitted.")
    if max(dates) < clock.now() - window:
        raise SubmissionError(
            f"Only papers from the last {plural(settings.submission_window_days, 'day')} can be "
            f"submitted; this one is from {max(dates):%B %-d, %Y}."
        )


def submit(
    db: Database,
    settings: Settings,
    arxiv: Lookup,
    user: User,
    text: str,
    organization: str | None = None,
    github_url: str | None = None,
    project_url: str | None = None,
) -> Outcome:
    """Submit a paper; raise SubmissionError, paper_links.LinkError (or the arXiv client's
    errors) when it can't be."""
    links = paper_links.clean_code_url(github_url), paper_links.clean_project_url(project_url)
    parsed = parse_arxiv_id(text)
    if parsed is None:
        raise SubmissionError(
            "That is not an arXiv id or link. Use an id like 2401.01234 or an arxiv.org URL."
        )
    arxiv_id = parsed.base
    with db.transaction() as session:
        duplicate = _already_on_feed(session, arxiv_id)
        if duplicate is not None:
            return _count_as_upvote(session, user, duplicate, links)
        _check_cap(session, settings, user)
        _organization(session, user, organization)
    record = arxiv.fetch_one(arxiv_id)  # outside any transaction: this waits on arXiv
    if user.role != "admin":
        _check_window(settings, record)
    with db.transaction() as session:
        duplicate = _already_on_feed(session, arxiv_id)  # someone may have been faster
        if duplicate is not None:
            return _count_as_upvote(session, user, duplicate, links)
        org = _organization(session, user, organization)
        record.arxiv_id = arxiv_id
        record.feed_at = clock.now()
        record.source = "submission"
        record.organization = OrganizationRef(org.name, org.fullname) if org else None
        stats = upsert_papers(session, [record])
        paper = session.execute(select(Paper).where(Paper.public_id == stats.ids[0])).scalar_one()
        paper.submitted_by_id = user.id
        touch_paper(session, paper)
        if any(links):
            code, project = paper_links.given_over_stored(paper, links)
            paper_links.apply_links(session, paper, user, "submitter", code, project)
        session.add(
            Submission(
                user_id=user.id,
                arxiv_id=arxiv_id,
                paper_id=paper.id,
                organization_id=org.id if org else None,
                status="accepted",
                created_at=clock.now(),
            )
        )
        return Outcome("accepted", paper.public_id, "Thank you! The paper is on today's feed.")


def _count_as_upvote(
    session: Session, user: User, paper: Paper, links: tuple[str | None, str | None]
) -> Outcome:
    set_vote(session, user.id, paper.id, True)
    ignored = False
    if any(links):
        role = paper_links.editor_role(session, paper, user)
        if role is None:
            ignored = True
        else:
            code, project = paper_links.given_over_stored(paper, links)
            paper_links.apply_links(session, paper, user, role, code, project)
    session.add(
        Submission(
            user_id=user.id,
            arxiv_id=paper.arxiv_id or paper.public_id,
            paper_id=paper.id,
            status="duplicate",
            reason="already on the feed",
            created_at=clock.now(),
        )
    )
    day = paper.feed_at.strftime("%B %-d, %Y") if paper.feed_at else "the feed"
    message = (
        f"This paper is already on the feed ({day}), so we counted your submission as an upvote."
    )
    if ignored:
        message += " The links you gave were not used: " + paper_links.NOT_ALLOWED
    return Outcome("duplicate", paper.public_id, message, links_ignored=ignored)
