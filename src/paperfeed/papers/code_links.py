"""Code links of a paper: the one set on it, and repositories named in its text.

A paper's `github_url` is set by its submitter, a claimed author or a moderator, and wins:
it is the paper's primary link, and nothing here overwrites it. Otherwise the first
repository found in the abstract, then in the arXiv comments, is the primary link. Found
are links to GitHub and GitLab repositories and to Hugging Face models, datasets and
Spaces, normalized (`https://github.com/owner/repo`: no scheme variants, no `.git`, no
trailing punctuation, no `/tree/main/...` or `/issues` tail).

The pattern is linear: bounded character classes separated by literal slashes, so no
two ways to match one text, and each field is cut to `MAX_TEXT` characters before it is
read. `update_code_links` follows the papers' change sequence from a cursor, one
transaction per batch, like the keywords job, and writes only papers whose links changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from paperfeed.db import Database
from paperfeed.models import GithubRepo, Paper, PaperCodeLink
from paperfeed.papers.derived import Progress, Write, follow_changes
from paperfeed.papers.store import lock_changes, touch_enrichment

CURSOR = "code_links"
MAX_TEXT = 20_000  # characters of one field read for links (abstracts are ~2,000)
MAX_LINKS = 10  # per paper
_SEGMENT = r"[A-Za-z0-9_.\-]{1,100}"
_LINK = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?:https?://)?(?:www\.)?"
    r"(?P<host>github\.com|gitlab\.com|huggingface\.co)"
    rf"(?P<path>(?:/{_SEGMENT}){{1,5}})",
    re.IGNORECASE,
)
_GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,38})")
# First path segments that are GitHub's or the Hub's own pages, not an owner.
_GITHUB_RESERVED = frozenset(
    [
        "about",
        "apps",
        "blog",
        "collections",
        "contact",
        "customer-stories",
        "enterprise",
        "explore",
        "features",
        "issues",
        "login",
        "marketplace",
        "notifications",
        "orgs",
        "organizations",
        "pricing",
        "pulls",
        "search",
        "security",
        "settings",
        "site",
        "sponsors",
        "topics",
        "trending",
        "users",
    ]
)
_HUB_RESERVED = frozenset(
    [
        "api",
        "blog",
        "chat",
        "collections",
        "docs",
        "join",
        "learn",
        "login",
        "models",
        "organizations",
        "papers",
        "posts",
        "pricing",
        "settings",
        "tasks",
    ]
)
_GITLAB_END = frozenset({"-", "tree", "blob", "issues", "merge_requests", "wikis"})


class CodeLink(NamedTuple):
    url: str  # normalized
    kind: str  # github | gitlab | hf-model | hf-dataset | hf-space
    repo_key: str  # the repository, lowercase: "owner/repo", "datasets/owner/name"


def _name(segment: str) -> str:
    """A repository name without what sentences and clones add: `.git`, trailing dots."""
    segment = segment.rstrip(".-")
    if segment.lower().endswith(".git"):
        segment = segment[:-4].rstrip(".-")
    return segment


def normalize(host: str, path: str) -> CodeLink | None:
    """The repository a `host` + `/path` link points into, or None if it is not one."""
    parts = [p for p in path.split("/") if p]
    host = host.lower()
    if host == "github.com":
        if len(parts) < 2 or parts[0].lower() in _GITHUB_RESERVED:
            return None
        owner, repo = parts[0], _name(parts[1])
        if not _GITHUB_OWNER.fullmatch(owner) or not repo or repo in {".", ".."}:
            return None
        return CodeLink(f"https://github.com/{owner}/{repo}", "github", f"{owner}/{repo}".lower())
    if host == "gitlab.com":
        kept: list[str] = []
        for part in parts[:4]:  # groups nest: group/subgroup/project
            if part.lower() in _GITLAB_END:
                break
            kept.append(part)
        if len(kept) < 2:
            return None
        kept[-1] = _name(kept[-1])
        if not kept[-1] or kept[0].lower() in {"users", "explore", "help", "dashboard"}:
            return None
        joined = "/".join(kept)
        return CodeLink(f"https://gitlab.com/{joined}", "gitlab", joined.lower())
    kind = "hf-model"
    if parts and parts[0].lower() in {"datasets", "spaces"}:
        kind = "hf-dataset" if parts[0].lower() == "datasets" else "hf-space"
        parts = parts[1:]
    elif parts and parts[0].lower() in _HUB_RESERVED:
        return None
    if len(parts) < 2:
        return None
    owner, name = parts[0], _name(parts[1])
    if not name or owner.startswith(".") or name in {".", ".."}:
        return None
    prefix = {"hf-model": "", "hf-dataset": "datasets/", "hf-space": "spaces/"}[kind]
    joined = f"{prefix}{owner}/{name}"
    return CodeLink(f"https://huggingface.co/{joined}", kind, joined.lower())


_PATH_START = re.compile(rf"(?:/{_SEGMENT}){{1,5}}")
_HOSTS = frozenset({"github.com", "gitlab.com", "huggingface.co"})


def repo_of_url(url: str) -> CodeLink | None:
    """The repository one whole http(s) address names (people's links, not text), or None.

    The same normalizer as `find_links`, without searching: "javascript:x//github.com/a/b"
    names nothing, nor does an address with a login or a port.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or parts.username or port is not None:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    start = _PATH_START.match(parts.path)
    if host not in _HOSTS or start is None:
        return None
    rest = parts.path[start.end() :]
    if rest and not rest.startswith("/"):
        return None  # a segment with characters no repository name holds
    return normalize(host, start.group())


def find_links(text: str | None) -> list[CodeLink]:
    """The distinct repository links in `text` (its first `MAX_TEXT` characters), in order."""
    if not text:
        return []
    found: dict[tuple[str, str], CodeLink] = {}
    for match in _LINK.finditer(text[:MAX_TEXT]):
        link = normalize(match["host"], match["path"])
        if link is not None:
            found.setdefault((link.kind, link.repo_key), link)
    return list(found.values())


class PaperLink(NamedTuple):
    link: CodeLink
    source: str  # paper | abstract | comments
    is_primary: bool


def paper_links(
    github_url: str | None, abstract: str | None, comments: str | None
) -> list[PaperLink]:
    """A paper's links, primary first: the one set on the paper (if it is a repository
    link), else the first found. One set on the paper that is no repository link (a
    project page) still wins: then no found link is primary."""
    rows: list[PaperLink] = []
    seen: set[tuple[str, str]] = set()
    explicit = find_links(github_url)[:1]
    for link in explicit:
        rows.append(PaperLink(link, "paper", True))
        seen.add((link.kind, link.repo_key))
    primary_left = not github_url or not github_url.strip()
    for source, text in (("abstract", abstract), ("comments", comments)):
        for link in find_links(text):
            if (link.kind, link.repo_key) in seen or len(rows) >= MAX_LINKS:
                continue
            seen.add((link.kind, link.repo_key))
            rows.append(PaperLink(link, source, primary_left))
            primary_left = False
    return rows


# --- stored links ---------------------------------------------------------------------------


@dataclass
class LinkStats:
    examined: int = 0
    changed: int = 0  # papers whose stored links were written


def _stored(rows: Iterable[PaperCodeLink]) -> dict[int, list[tuple[str, str, str, str, bool]]]:
    out: dict[int, list[tuple[str, str, str, str, bool]]] = {}
    for r in sorted(rows, key=lambda r: (r.paper_id, r.position)):
        out.setdefault(r.paper_id, []).append(
            (r.url, r.kind, r.source, r.repo_key, bool(r.is_primary))
        )
    return out


def update_code_links(
    db: Database,
    batch: int = 500,
    progress: Progress | None = None,
    limit: int | None = None,
) -> LinkStats:
    """Find the links of every paper changed since the last run; resumable (one transaction
    per batch, cursor saved with it). Papers whose links did not change are not written."""
    stats = LinkStats()

    def step(papers: Sequence[Any]) -> Write:
        ids = [p.id for p in papers]
        with db.reader() as session:
            stored = _stored(
                session.scalars(select(PaperCodeLink).where(PaperCodeLink.paper_id.in_(ids)))
            )
        wanted = {
            p.id: [
                (x.link.url, x.link.kind, x.source, x.link.repo_key, x.is_primary)
                for x in paper_links(p.github_url, p.abstract, p.arxiv_comments)
            ]
            for p in papers
        }
        todo = [pid for pid in ids if wanted[pid] != stored.get(pid, [])]
        stats.changed += len(todo)

        def write(session: Session) -> None:
            if not todo:
                return
            # In line with a person setting a link (refresh_paper, under the same lock): two
            # rewrites of one paper's links at once would collide on PostgreSQL's keys.
            lock_changes(session)
            session.execute(delete(PaperCodeLink).where(PaperCodeLink.paper_id.in_(todo)))
            session.add_all(
                PaperCodeLink(
                    paper_id=pid,
                    position=i,
                    url=url,
                    kind=kind,
                    source=source,
                    repo_key=key,
                    is_primary=primary,
                )
                for pid in todo
                for i, (url, kind, source, key, primary) in enumerate(wanted[pid])
            )
            touch_enrichment(session)  # pages show them: revalidate, do not re-index

        return write

    columns = (Paper.id, Paper.github_url, Paper.abstract, Paper.arxiv_comments)
    stats.examined = follow_changes(db, CURSOR, columns, batch, step, progress, limit)
    return stats


def refresh_paper(session: Session, paper: Paper) -> None:
    """Write one paper's stored links now, in the caller's transaction (a person set its
    `github_url`): its page shows the new primary link at once, not after the next job."""
    wanted = paper_links(paper.github_url, paper.abstract, paper.arxiv_comments)
    session.execute(delete(PaperCodeLink).where(PaperCodeLink.paper_id == paper.id))
    session.add_all(
        PaperCodeLink(
            paper_id=paper.id,
            position=i,
            url=x.link.url,
            kind=x.link.kind,
            source=x.source,
            repo_key=x.link.repo_key,
            is_primary=x.is_primary,
        )
        for i, x in enumerate(wanted)
    )
    session.flush()
    touch_enrichment(session)


# --- what pages and the API show -----------------------------------------------------------


@dataclass(frozen=True)
class PaperCode:
    """A paper's code link as pages show it, with its GitHub repository's stars if known.

    `kind` is that of the link (github, gitlab, hf-model...), or "link" for a `github_url`
    that names no repository the finder knows (shown as it was set). `source` says where
    the link came from: "paper" (set on it), "abstract" or "comments" (found).
    """

    url: str
    kind: str
    name: str  # "owner/repo" (GitHub's current spelling once it has answered)
    source: str
    stars: int | None = None
    description: str | None = None
    pushed_at: datetime | None = None

    @property
    def github_url(self) -> str | None:
        return self.url if self.kind == "github" else None


_HOST_PREFIX = ("https://github.com/", "https://gitlab.com/", "https://huggingface.co/")


def _name_of(url: str) -> str:
    for prefix in _HOST_PREFIX:
        if url.startswith(prefix):
            return url[len(prefix) :]
    return url


def load_code(session: Session, papers: Sequence[Paper]) -> dict[int, PaperCode]:
    """Every paper of `papers` that has a code link -> its primary one: one query.

    A `github_url` set on the paper always shows, found links or not (the `github` job may
    not have run since it was set); a repository GitHub says is gone shows without stars.
    """
    ids = [p.id for p in papers]
    found: dict[int, PaperCode] = {}
    if ids:
        rows = session.execute(
            select(
                PaperCodeLink.paper_id,
                PaperCodeLink.url,
                PaperCodeLink.kind,
                PaperCodeLink.source,
                GithubRepo.full_name,
                GithubRepo.stars,
                GithubRepo.description,
                GithubRepo.pushed_at,
                GithubRepo.status,
            )
            .outerjoin(
                GithubRepo,
                and_(PaperCodeLink.kind == "github", GithubRepo.repo == PaperCodeLink.repo_key),
            )
            .where(PaperCodeLink.paper_id.in_(ids), PaperCodeLink.is_primary.is_(True))
        )
        for pid, url, kind, source, full_name, stars, description, pushed_at, status in rows:
            name = full_name if status == "ok" and full_name else _name_of(url)
            found[pid] = PaperCode(
                url=f"https://github.com/{name}" if kind == "github" else url,
                kind=kind,
                name=name,
                source=source,
                stars=stars if status == "ok" else None,
                description=description if status == "ok" else None,
                pushed_at=pushed_at if status == "ok" else None,
            )
    for paper in papers:
        explicit = (paper.github_url or "").strip()
        if not explicit:
            continue
        code = found.get(paper.id)
        if code is None or code.source != "paper":  # not (yet) read by the job
            links = find_links(explicit)
            link = links[0] if links else None
            found[paper.id] = PaperCode(
                url=link.url if link else explicit,
                kind=link.kind if link else "link",
                name=_name_of(link.url) if link else explicit,
                source="paper",
            )
    return found


def load_links(session: Session, paper_id: int) -> list[PaperCodeLink]:
    """All of a paper's stored code links, primary first (for its page)."""
    return list(
        session.scalars(
            select(PaperCodeLink)
            .where(PaperCodeLink.paper_id == paper_id)
            .order_by(PaperCodeLink.position)
        )
    )
