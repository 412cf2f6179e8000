"""A paper's code and project-page links as people set them: who may, what is accepted.

- The paper's submitter, an author with an approved claim on it, and moderators and admins
  may set, correct or clear `papers.github_url` (the code link) and `papers.project_url`;
  anyone else is refused with 403 and the reason.
- The code link must name a repository on GitHub, GitLab or the Hugging Face Hub: it is
  read by the same normalizer that finds links in abstracts (`papers.code_links`) and
  stored normalized. The project page may be any http(s) address. Both are printable ASCII
  of at most `MAX_URL` characters, with no login in them and none of the characters RFC 3986
  leaves out of addresses (`<>"{}|\\^` and the backtick); parentheses are stored
  percent-encoded, so a link in a Markdown export ends where the address does.
- A set code link wins over the ones found in the text; the paper's stored code links are
  rewritten in the same transaction, so its page and cards show it at once, and clearing
  it falls back to the first one found.
- Every change is written to the moderation log: who, as what, which paper, old -> new.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import EllipsisType
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.community import audit
from paperfeed.community.limits import Limit
from paperfeed.errors import Forbidden, NotFound, UserError
from paperfeed.models import Paper, PaperAuthor, User
from paperfeed.papers.code_links import refresh_paper, repo_of_url
from paperfeed.papers.lookup import visible_paper
from paperfeed.papers.store import SET_LINKS_ACTION, lock_changes, touch_paper

MAX_URL = 500  # characters: the columns' size
# What a form or JSON field may hold: longer is refused unread, shorter gets the reason.
MAX_LINK_FIELD = 2 * MAX_URL
EDIT_LINKS = Limit("paper-links", 30, 3600)  # changes per user per hour
STAFF = frozenset({"moderator", "admin"})
_NOT_IN_URLS = frozenset('<>"`{}|\\^')  # RFC 3986 allows none of them unencoded
NOT_ALLOWED = (
    "Only the paper's submitter, its verified authors and moderators can change its links. "
    "If you are one of its authors, claim your name on the paper first."
)


class LinkError(UserError):
    """A link that cannot be set; the message says why."""

    status = 400


class LinkNotFound(LinkError, NotFound):
    status = 404


class LinkForbidden(LinkError, Forbidden):
    status = 403


def _url(text: str | None, what: str) -> str | None:
    """`text` as an http(s) address, None when empty; LinkError with the reason otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_URL:
        raise LinkError(f"The {what} is limited to {MAX_URL} characters.")
    if any(not 0x21 <= ord(ch) <= 0x7E for ch in text):
        raise LinkError(
            f"The {what} holds a space, a control or a non-ASCII character: paste the address "
            "as the browser's address bar copies it."
        )
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise LinkError(f"The {what} is not a valid address.") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise LinkError(f"The {what} must start with https:// (or http://).")
    unsafe = sorted(set(text) & _NOT_IN_URLS)
    if unsafe:
        raise LinkError(
            f"The {what} holds {' '.join(unsafe)}, which web addresses cannot hold unencoded."
        )
    if not parts.hostname or "." not in parts.hostname:
        raise LinkError(f"The {what} names no web site: use a full address like https://….")
    if parts.username is not None or parts.password is not None:
        raise LinkError(f"The {what} must not hold a user name or password.")
    # Encoded, the same address, and no ")" can end a Markdown link early in an export.
    return text.replace("(", "%28").replace(")", "%29")


def clean_code_url(text: str | None) -> str | None:
    """The code link, normalized (https://github.com/owner/repo), or None to clear it."""
    url = _url(text, "code link")
    if url is None:
        return None
    link = repo_of_url(url)
    if link is None:
        raise LinkError(
            "The code link must be a repository on GitHub, GitLab or the Hugging Face Hub, "
            "like https://github.com/owner/repo; put other pages in the project page."
        )
    return link.url


def clean_project_url(text: str | None) -> str | None:
    """The project page as given (any http(s) address), or None to clear it."""
    return _url(text, "project page")


def editor_role(session: Session, paper: Paper, user: User | None) -> str | None:
    """Why `user` may change `paper`'s links ("moderator", "submitter", "author"), or None."""
    if user is None or user.banned_at is not None:
        return None
    if user.role in STAFF:
        return "moderator" if user.role == "moderator" else "admin"
    if paper.submitted_by_id == user.id:
        return "submitter"
    verified = session.execute(
        select(PaperAuthor.position)
        .where(PaperAuthor.paper_id == paper.id, PaperAuthor.user_id == user.id)
        .limit(1)
    ).first()
    return "author" if verified is not None else None


@dataclass
class LinksChange:
    public_id: str
    changed: bool
    github_url: str | None
    project_url: str | None


def _arrow(old: str | None, new: str | None) -> str:
    return f"{old or '(none)'} → {new or '(none)'}"


def apply_links(
    session: Session,
    paper: Paper,
    actor: User,
    role: str,
    github_url: str | None,
    project_url: str | None,
) -> bool:
    """Store already-cleaned links on `paper`, refresh its code links and log the change.
    False (nothing written) when both are as stored. The caller holds `lock_changes`."""
    detail: dict[str, object] = {}
    if github_url != paper.github_url:
        detail["code"] = _arrow(paper.github_url, github_url)
    if project_url != paper.project_url:
        detail["project page"] = _arrow(paper.project_url, project_url)
    if not detail:
        return False
    paper.github_url, paper.project_url = github_url, project_url
    touch_paper(session, paper)  # the code-links job and the search index see it too
    refresh_paper(session, paper)
    audit.log(
        session, actor, SET_LINKS_ACTION, "paper", paper.public_id, detail={"as": role, **detail}
    )
    return True


def given_over_stored(
    paper: Paper, links: tuple[str | None, str | None]
) -> tuple[str | None, str | None]:
    """A submission's links where it gives them, the paper's own where it does not."""
    return links[0] or paper.github_url, links[1] or paper.project_url


def set_links(
    session: Session,
    paper_id: str,
    actor: User,
    github_url: str | EllipsisType | None,
    project_url: str | EllipsisType | None,
) -> LinksChange:
    """Set, correct or clear a paper's code and project-page links (an empty value clears,
    `...` keeps the stored one).

    Call at the start of a transaction (it locks the change counter first). Raises
    LinkNotFound, LinkForbidden (403, with the reason) or LinkError (400).
    """
    lock_changes(session)
    paper = visible_paper(session, paper_id, missing=LinkNotFound).paper
    role = editor_role(session, paper, actor)
    if role is None:
        raise LinkForbidden(NOT_ALLOWED)
    code = paper.github_url if github_url is ... else clean_code_url(github_url)
    project = paper.project_url if project_url is ... else clean_project_url(project_url)
    changed = apply_links(session, paper, actor, role, code, project)
    return LinksChange(paper.public_id, changed, paper.github_url, paper.project_url)
