"""The worker's `hub` job: the models, datasets and Spaces on the Hugging Face Hub that cite
arXiv papers (the Hub tags them `arxiv:<id>`).

Each run asks the Hub (`PAPERFEED_HUB_ENDPOINT`) about at most `PAPERFEED_HUB_BATCH` arXiv
papers that are due: never asked first, newest first; then those asked
`PAPERFEED_HUB_REFRESH_HOURS` ago or more, oldest first (one whose last answer was an
error after `ERROR_RETRY`). For each it makes three listings through the official
`huggingface_hub` client, `list_models`, `list_datasets` and `list_spaces` with
`filter="arxiv:<id>"`, sorted by likes, reading at most `COUNT_CAP` of each (so a count
of `COUNT_CAP` means "that many or more"), and keeps the `TOP` most liked. Each paper's
answer is written in its own transaction (its `paper_hub_checks` row and its
`paper_hub_artifacts`, and `touch_enrichment` when what pages show changed), so a killed
run loses at most the paper it was asking about.

What the client does by itself, and what is added here (huggingface_hub 2.4,
`utils/_http.py`): it retries network errors, timeouts, 408, 429 and 5xx five times,
waiting 1, 2, 4, 8, 8 s, or what the Hub's `RateLimit` header (on a 429 with nothing
remaining) or `Retry-After` says, plus a second; its shared HTTP client has no timeout.
The job installs a client factory (`set_client_factory`, the client's own hook) whose
client keeps the library's defaults and adds, only while a listing of this job runs:
- a timeout (`TIMEOUT`) on every request;
- the pace: each HTTP request, every page and retry included, waits for the Hub host's
  slot at `PAPERFEED_HUB_REQUEST_INTERVAL` (the slot every polite client of this process
  shares, `http_client.RateLimiter.for_host`);
- a stop: a 429 or 503 that asks for more than `MAX_WAIT` seconds ends the run at once
  (`HubRateLimited`; the time is noted in the `hub:rate-limit` cursor, and later runs ask
  nothing before it) instead of letting the client sleep; more than `max_retries`
  attempts at one address end it too (`HubUnavailable`);
- a size cap: an answer that says (`Content-Length`) it is longer than `MAX_BODY` bytes,
  or turns out longer as it arrives, is refused.
A Hub that keeps failing fails the run (the paper's row records the error; the next run
carries on); pages show what was stored before, and never ask the Hub themselves.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import parse_ratelimit_headers, set_client_factory
from huggingface_hub.utils._http import default_client_factory  # the library's own defaults
from sqlalchemy import and_, delete, exists, func, or_, select

from paperfeed import __version__, clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.http_client import (
    RETRY_STATUSES,
    RateLimiter,
    parse_retry_after,
    user_agent,
)
from paperfeed.ingest.pauses import pause_until, paused_until
from paperfeed.models import Paper, PaperHubArtifact, PaperHubCheck
from paperfeed.papers.derived import Progress
from paperfeed.papers.store import touch_enrichment

log = logging.getLogger(__name__)

KINDS = ("model", "dataset", "space")
TOP = 10  # of each kind kept per paper, most liked first
COUNT_CAP = 1000  # items of each kind read per paper: one page of the Hub's listing
TIMEOUT = 30.0  # seconds, for each request of a listing
MAX_WAIT = 60.0  # seconds the client may wait by itself for a 429 or 503 to pass
MAX_BODY = 10_000_000  # bytes of one answer
ERROR_RETRY = timedelta(hours=1)
RATE_LIMIT_CURSOR = "hub:rate-limit"
# What each listing asks the Hub to send (`expand`): only what pages and the API show.
EXPAND: dict[str, list[Any]] = {
    "model": ["author", "likes", "downloads", "lastModified", "pipeline_tag"],
    "dataset": ["author", "likes", "downloads", "lastModified"],
    "space": ["author", "likes", "lastModified", "sdk"],
}
_REPO_ID = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/)?(?!\.+$)[A-Za-z0-9_.\-]{1,96}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


class HubRateLimited(RuntimeError):
    """The Hub asks us to wait until `resume_at`; the job stops and resumes after it."""

    def __init__(self, message: str, resume_at: datetime) -> None:
        super().__init__(message)
        self.resume_at = resume_at


class HubUnavailable(RuntimeError):
    """The Hub did not answer a listing (after the client's retries, or ours ran out)."""


class HubRefused(RuntimeError):
    """The Hub refused one listing (a 4xx other than 429), or its answer was too large."""


# --- the client ------------------------------------------------------------------------------


@dataclass
class _Listing:
    """What the hooks of the shared client need while one of our listings runs."""

    limiter: RateLimiter
    max_retries: int
    endpoint: httpx2.URL
    timeout: float
    attempts: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    problem: str = "no answer"  # what the last failed attempt got


_ACTIVE: ContextVar[_Listing | None] = ContextVar("paperfeed_hub_listing", default=None)
_INSTALL = threading.Lock()
_installed = False


def _wait_of(response: httpx2.Response) -> float | None:
    """Seconds the Hub asks us to wait: its `RateLimit` reset when nothing is left, else
    `Retry-After`."""
    info = parse_ratelimit_headers(response.headers)
    if info is not None and info.remaining == 0:
        return float(info.reset_in_seconds)
    return parse_retry_after(response.headers.get("Retry-After"))


def _on_request(request: httpx2.Request) -> None:
    listing = _ACTIVE.get()
    if listing is None:
        return  # someone else's use of the library (a model download): left as it is
    url = str(request.url)
    ours = listing.endpoint
    if (
        (request.url.scheme, request.url.host, request.url.port)
        != (ours.scheme, ours.host, ours.port)
        or not request.url.path.startswith(ours.path.rstrip("/") + "/api/")
        or request.url.path.rsplit("/", 1)[-1] not in ("models", "datasets", "spaces")
    ):
        # Only the listings at the configured endpoint: not a next page pointing elsewhere,
        # nor the library's own side requests (a daily fetch of its registry of coding
        # agents from huggingface.co, whatever the endpoint: it swallows this refusal).
        raise HubRefused(f"not a listing of the configured Hub: {url}")
    tried = listing.attempts.get(url, 0)
    if tried > listing.max_retries:
        raise HubUnavailable(f"the Hub at {url} failed {tried} times, last with {listing.problem}")
    listing.attempts[url] = tried + 1
    # Uncompressed: the size cap then counts what is held (10 MB of gzip can be a GB).
    request.headers["Accept-Encoding"] = "identity"
    listing.limiter.wait()
    listing.requests += 1


def _on_response(response: httpx2.Response) -> None:
    listing = _ACTIVE.get()
    if listing is None:
        return
    status = response.status_code
    if status in (429, 503):  # first: a long wait stops the run even on the last attempt
        wait = _wait_of(response)
        if wait is not None and wait > MAX_WAIT:
            resume = clock.now() + timedelta(seconds=wait)
            raise HubRateLimited(
                f"the Hub answered HTTP {status}, asking to wait {wait:.0f} s", resume
            )
    if status in RETRY_STATUSES or status >= 500:
        listing.problem = f"HTTP {status}"
        url = str(response.request.url)
        if listing.attempts.get(url, 0) > listing.max_retries:  # no sleep before giving up
            raise HubUnavailable(
                f"the Hub at {url} failed {listing.attempts[url]} times, last with HTTP {status}"
            )
    length = response.headers.get("Content-Length", "")
    if status == 200 and length.isdigit() and int(length) > MAX_BODY:
        raise HubRefused(f"the Hub's answer at {response.request.url} is {length} bytes")
    if isinstance(response.stream, httpx2.SyncByteStream):  # chunked: counted as it comes
        response.stream = _Capped(response.stream, str(response.request.url))


class _Capped(httpx2.SyncByteStream):
    """An answer's body that stops the listing once it passes `MAX_BODY` bytes (a body
    without a `Content-Length` is otherwise read whole into memory by the library)."""

    def __init__(self, stream: httpx2.SyncByteStream, url: str) -> None:
        self._stream, self._url = stream, url

    def __iter__(self) -> Iterator[bytes]:
        read = 0
        for chunk in self._stream:
            read += len(chunk)
            if read > MAX_BODY:
                raise HubRefused(f"the Hub's answer at {self._url} is over {MAX_BODY} bytes")
            yield chunk

    def close(self) -> None:
        self._stream.close()


def _factory() -> httpx2.Client:
    client = default_client_factory()
    hooks = client.event_hooks
    client.event_hooks = {
        "request": [*hooks.get("request", []), _on_request, _timeout],
        "response": [*hooks.get("response", []), _on_response],
    }
    return client


def _timeout(request: httpx2.Request) -> None:
    """A timeout on our requests only (the library's own calls choose theirs)."""
    listing = _ACTIVE.get()
    if listing is not None:
        request.extensions["timeout"] = httpx2.Timeout(listing.timeout).as_dict()


def install() -> None:
    """Have the library's shared client carry this module's hooks (once per process)."""
    global _installed
    with _INSTALL:
        if not _installed:
            set_client_factory(_factory)
            _installed = True


class Artifact(NamedTuple):
    """One model, dataset or Space as pages and the API show it."""

    repo_id: str
    author: str | None
    likes: int
    downloads: int | None
    extra: str | None  # a model's pipeline_tag, a Space's sdk
    last_modified: datetime | None


@dataclass(frozen=True)
class Listing:
    top: list[Artifact]
    count: int  # up to COUNT_CAP


def _count(value: object) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return None
    return min(value, 2**53)  # a column's range, whatever the answer says


def _text(value: object, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def _artifact(kind: str, item: Any) -> Artifact | None:
    """An item of a listing, checked (remote data): None if it has no usable id."""
    repo_id = _text(getattr(item, "id", None), _REPO_ID)
    if repo_id is None:
        return None
    modified = getattr(item, "last_modified", None)
    if isinstance(modified, datetime):
        modified = modified.astimezone(UTC) if modified.tzinfo else modified.replace(tzinfo=UTC)
    else:
        modified = None
    extra = getattr(item, "pipeline_tag" if kind == "model" else "sdk", None)
    return Artifact(
        repo_id=repo_id,
        author=_text(getattr(item, "author", None), _NAME),
        likes=_count(getattr(item, "likes", None)) or 0,
        downloads=None if kind == "space" else _count(getattr(item, "downloads", None)),
        extra=_text(extra, _TAG) if kind != "dataset" else None,
        last_modified=modified,
    )


class HubClient:
    """The official client against `endpoint`, paced and bounded (see the module's docstring)."""

    def __init__(
        self,
        endpoint: str,
        *,
        user_agent: str,
        request_interval: float = 1.0,
        max_retries: int = 5,
        timeout: float = TIMEOUT,
        limiter: RateLimiter | None = None,
    ) -> None:
        install()
        self.endpoint = endpoint.rstrip("/")
        self.api = HfApi(
            endpoint=self.endpoint,
            token=False,  # public listings: never send a token the machine may have
            library_name="paperfeed",
            library_version=__version__,
            user_agent=user_agent,
        )
        self.max_retries = max_retries
        self.timeout = timeout
        self.limiter = limiter or RateLimiter.for_host(
            urlsplit(self.endpoint).netloc, request_interval
        )
        self.requests = 0  # HTTP requests made, pages and retries included

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> HubClient:
        return cls(
            settings.hub_endpoint,
            user_agent=user_agent(settings),
            request_interval=settings.hub_request_interval,
            **kwargs,
        )

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        pass  # the library's client is shared by the process: nothing of ours to close

    @contextmanager
    def _listing(self) -> Iterator[None]:
        listing = _Listing(
            self.limiter, self.max_retries, httpx2.URL(self.endpoint + "/"), self.timeout
        )
        token = _ACTIVE.set(listing)
        try:
            yield
        finally:
            _ACTIVE.reset(token)
            self.requests += listing.requests

    def _items(self, kind: str, tag: str) -> Iterable[Any]:
        common: dict[str, Any] = {"filter": tag, "sort": "likes", "limit": COUNT_CAP}
        if kind == "model":
            return self.api.list_models(expand=EXPAND[kind], **common)
        if kind == "dataset":
            return self.api.list_datasets(expand=EXPAND[kind], **common)
        return self.api.list_spaces(expand=EXPAND[kind], **common)

    def listing(self, kind: str, arxiv_id: str) -> Listing:
        """The `kind`s tagged `arxiv:<arxiv_id>`: how many (up to COUNT_CAP), the TOP most liked."""
        found: list[Artifact] = []
        with self._listing():
            try:
                for item in self._items(kind, f"arxiv:{arxiv_id}"):
                    artifact = _artifact(kind, item)
                    if artifact is not None:
                        found.append(artifact)
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status is not None and 400 <= status < 500 and status not in (408, 429):
                    raise HubRefused(f"the Hub refused the {kind} listing: HTTP {status}") from None
                raise HubUnavailable(f"the Hub failed the {kind} listing: HTTP {status}") from None
            except httpx2.HTTPError as exc:
                raise HubUnavailable(
                    f"the Hub did not answer the {kind} listing ({exc.__class__.__name__})"
                ) from None
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # Not the listing's JSON (a proxy's HTML page, an object for a list...):
                # the client's parsing gave up; asking about the next paper would not help.
                raise HubUnavailable(
                    f"the Hub's {kind} listing was not its JSON ({exc.__class__.__name__})"
                ) from None
        found.sort(key=lambda a: (-a.likes, -(a.downloads or 0), a.repo_id))
        return Listing(found[:TOP], len(found))

    def paper(self, arxiv_id: str) -> dict[str, Listing]:
        """The three listings of one paper."""
        return {kind: self.listing(kind, arxiv_id) for kind in KINDS}


# --- which papers, and storing answers ------------------------------------------------------


@dataclass
class HubStats:
    checked: int = 0  # papers the Hub answered about
    linked: int = 0  # of them, cited by at least one model, dataset or Space
    changed: int = 0  # papers whose shown links changed
    refused: int = 0  # papers whose listing the Hub refused
    requests: int = 0  # HTTP requests made
    left: int = 0  # due papers not asked this run
    waiting_until: datetime | None = None

    def counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "checked": self.checked,
            "linked": self.linked,
            "changed": self.changed,
            "refused": self.refused,
            "requests": self.requests,
            "left": self.left,
        }
        if self.waiting_until is not None:
            counts["rate limited until"] = f"{self.waiting_until:%Y-%m-%d %H:%M} UTC"
        return counts


def _arxiv() -> Any:
    return and_(Paper.arxiv_id.is_not(None), Paper.hidden_at.is_(None))


def _stale(now: datetime, refresh: timedelta) -> Any:
    return or_(
        PaperHubCheck.checked_at <= now - refresh,
        and_(PaperHubCheck.status == "error", PaperHubCheck.checked_at <= now - ERROR_RETRY),
    )


def _never_asked() -> Any:
    return ~exists().where(PaperHubCheck.paper_id == Paper.id)


REFRESH_SHARE = 4  # at least 1/4 of a run's batch refreshes old answers, when any are due


def due_papers(db: Database, settings: Settings, limit: int) -> list[tuple[int, str]]:
    """(paper id, arXiv id) to ask about now: never asked (newest first), then the oldest
    answers; a quarter of the batch is kept for the old answers while new papers remain,
    so a first pass over a whole archive (years at the Hub's pace) does not stop the
    refresh of what was asked."""
    now = clock.now()
    refresh = timedelta(hours=settings.hub_refresh_hours)
    with db.reader() as session:
        new = list(
            session.execute(
                select(Paper.id, Paper.arxiv_id)
                .where(_arxiv(), _never_asked())
                .order_by(Paper.id.desc())
                .limit(limit)
            ).all()
        )
        old = list(
            session.execute(
                select(Paper.id, Paper.arxiv_id)
                .join(PaperHubCheck, PaperHubCheck.paper_id == Paper.id)
                .where(_arxiv(), _stale(now, refresh))
                .order_by(PaperHubCheck.checked_at, Paper.id)
                .limit(limit)
            ).all()
        )
    old = old[: max(limit // REFRESH_SHARE, limit - len(new))]
    rows = new[: limit - len(old)] + old
    return [(pid, arxiv_id) for pid, arxiv_id in rows if arxiv_id]


def due_count(db: Database, settings: Settings) -> int:
    """How many arXiv papers are due, counted in the database."""
    now = clock.now()
    refresh = timedelta(hours=settings.hub_refresh_hours)
    with db.reader() as session:
        new = session.scalar(
            select(func.count()).select_from(Paper).where(_arxiv(), _never_asked())
        )
        old = session.scalar(
            select(func.count())
            .select_from(PaperHubCheck)
            .join(Paper, Paper.id == PaperHubCheck.paper_id)
            .where(_arxiv(), _stale(now, refresh))
        )
    return (new or 0) + (old or 0)


def _rows(session: Any, paper_id: int) -> list[tuple[object, ...]]:
    return [
        (a.kind, a.position, a.repo_id, a.author, a.likes, a.downloads, a.extra, a.last_modified)
        for a in session.scalars(
            select(PaperHubArtifact)
            .where(PaperHubArtifact.paper_id == paper_id)
            .order_by(PaperHubArtifact.kind, PaperHubArtifact.position)
        )
    ]


def store_answer(
    db: Database, paper_id: int, answer: dict[str, Listing] | None, error: str | None = None
) -> bool:
    """One paper's answer (or the error that replaced it), in its own transaction; True if
    what pages show changed. An error keeps the last good answer's counts and artifacts."""
    now = clock.now()
    with db.transaction() as session:
        if session.get(Paper, paper_id) is None:  # gone meanwhile
            return False
        row = session.get(PaperHubCheck, paper_id)
        if row is None:
            row = PaperHubCheck(paper_id=paper_id, status="new", checked_at=now)
            session.add(row)
        row.checked_at = now
        if answer is None:
            row.status, row.error = "error", (error or "")[:1000]
            return False
        before = (row.num_models, row.num_datasets, row.num_spaces, _rows(session, paper_id))
        row.status, row.error = "ok", None
        row.num_models = answer["model"].count
        row.num_datasets = answer["dataset"].count
        row.num_spaces = answer["space"].count
        wanted = sorted((kind, i, *a) for kind in KINDS for i, a in enumerate(answer[kind].top))
        after = (row.num_models, row.num_datasets, row.num_spaces, wanted)
        if after == before:
            return False
        session.execute(delete(PaperHubArtifact).where(PaperHubArtifact.paper_id == paper_id))
        session.add_all(
            PaperHubArtifact(
                paper_id=paper_id,
                kind=kind,
                position=position,
                repo_id=repo_id,
                author=author,
                likes=likes,
                downloads=downloads,
                extra=extra,
                last_modified=modified,
            )
            for kind, position, repo_id, author, likes, downloads, extra, modified in wanted
        )
        touch_enrichment(session)  # pages show them: revalidate, do not re-index
        return True


def update_hub(
    db: Database,
    settings: Settings,
    client: HubClient,
    progress: Progress | None = None,
) -> HubStats:
    """One run of the job (see the module's docstring)."""
    stats = HubStats()
    waiting = paused_until(db, RATE_LIMIT_CURSOR)
    if waiting is not None:
        stats.waiting_until = waiting
        stats.left = due_count(db, settings)
        return stats
    todo = due_papers(db, settings, settings.hub_batch + 1)
    if len(todo) > settings.hub_batch:
        stats.left = due_count(db, settings) - settings.hub_batch
        todo = todo[: settings.hub_batch]
    start = client.requests
    try:
        for done, (paper_id, arxiv_id) in enumerate(todo, start=1):
            try:
                answer = client.paper(arxiv_id)
            except HubRateLimited as limited:
                pause_until(db, RATE_LIMIT_CURSOR, limited.resume_at)
                stats.waiting_until = limited.resume_at
                stats.left += len(todo) - done + 1
                log.warning("hub: %s; the job resumes at %s", limited, limited.resume_at)
                break
            except HubRefused as refused:
                store_answer(db, paper_id, None, str(refused))
                stats.refused += 1
            except HubUnavailable as down:
                store_answer(db, paper_id, None, str(down))
                raise
            else:
                stats.checked += 1
                stats.linked += any(listing.count for listing in answer.values())
                stats.changed += store_answer(db, paper_id, answer)
            if progress:
                progress(done, len(todo))
    finally:
        stats.requests = client.requests - start
    return stats


# --- what pages and the API show -----------------------------------------------------------


@dataclass(frozen=True)
class HubLinks:
    """A paper's models, datasets and Spaces as its page and `paper_info` show them."""

    checked_at: datetime
    counts: dict[str, int]  # kind -> how many (COUNT_CAP: that many or more)
    top: dict[str, list[PaperHubArtifact]]  # kind -> most liked first

    @property
    def any(self) -> bool:
        return any(self.counts.values())

    def capped(self, kind: str) -> bool:
        return self.counts[kind] >= COUNT_CAP


def load_hub(session: Any, paper: Paper) -> HubLinks | None:
    """What the Hub last said about `paper` (two queries), or None if it was never asked
    (or the paper has no arXiv id)."""
    if not paper.arxiv_id:
        return None
    row = session.get(PaperHubCheck, paper.id)
    if row is None or row.num_models is None:  # never answered (only errors so far)
        return None
    top: dict[str, list[PaperHubArtifact]] = {kind: [] for kind in KINDS}
    for artifact in session.scalars(
        select(PaperHubArtifact)
        .where(PaperHubArtifact.paper_id == paper.id)
        .order_by(PaperHubArtifact.kind, PaperHubArtifact.position)
    ):
        top.setdefault(artifact.kind, []).append(artifact)
    counts = {
        "model": row.num_models or 0,
        "dataset": row.num_datasets or 0,
        "space": row.num_spaces or 0,
    }
    return HubLinks(row.checked_at, counts, top)


def hub_url(endpoint: str, kind: str, repo_id: str) -> str:
    """The repository's page on the Hub: `{endpoint}/{id}`, `/datasets/{id}`, `/spaces/{id}`."""
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[kind]
    return f"{endpoint.rstrip('/')}/{prefix}{repo_id}"
