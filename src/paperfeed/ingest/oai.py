"""`paperfeed ingest arxiv`: harvest arXiv's OAI-PMH interface (`PAPERFEED_ARXIV_OAI_URL`).

A harvest is `ListRecords` for a date range (and optionally a set such as `cs`), read page
by page through resumption tokens. Each page is written in one transaction together with
the checkpoint (the token for the next page), so a killed harvest resumes at the page it
had not committed; if arXiv has expired the token meanwhile (`badResumptionToken`) the
range is asked for again from the start, which is safe because writes are idempotent.

Formats: `arXivRaw` (the default: every version with its date, the raw author string) and
`arXiv` (structured authors, but only the first and latest dates). Deleted records
(`<header status="deleted">`) hide the paper. arXiv paces harvesters with `503` and
`Retry-After`; the client also keeps `PAPERFEED_ARXIV_REQUEST_INTERVAL` between requests
and retries network errors with exponential backoff.

When a harvest completes, the cursor remembers the server's date of its first answer, so
the next harvest without `--from` starts there (one day of overlap, harmless).
"""

from __future__ import annotations

import contextlib
import logging
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Self, Unpack

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.http_client import (
    ClientOptions,
    PoliteClient,
    RemoteRefused,
    RemoteUnavailable,
    TryAgain,
    user_agent,
)
from paperfeed.ingest.jsonl import clean_text
from paperfeed.ingest.snapshot import fast_title_key, write_resilient
from paperfeed.models import IngestCursor, Paper
from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.papers.records import PaperRecord, RecordError, Version
from paperfeed.papers.store import touch_paper

log = logging.getLogger(__name__)

OAI = "http://www.openarchives.org/OAI/2.0/"
FORMATS = {"arXivRaw": "http://arxiv.org/OAI/arXivRaw/", "arXiv": "http://arxiv.org/OAI/arXiv/"}
DELETED_REASON = "deleted at arXiv (OAI-PMH)"
MAX_RESTARTS = 3


class OaiError(RuntimeError):
    """The harvest cannot go on; the message says why and what to do."""


class OaiProtocolError(OaiError):
    """An OAI-PMH `<error code=...>` answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"arXiv's OAI-PMH server answered {code}: {message}")
        self.code = code


@dataclass
class Page:
    records: list[PaperRecord] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (identifier, reason)
    token: str | None = None
    complete_size: int | None = None
    response_date: date | None = None


# --- parsing -----------------------------------------------------------------------------


def parse_page(data: bytes, prefix: str) -> Page:
    """One ListRecords answer; `OaiProtocolError` for an OAI error (except noRecordsMatch)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OaiError(f"arXiv's OAI-PMH server returned malformed XML ({exc})") from None
    if root.tag != f"{{{OAI}}}OAI-PMH":
        raise OaiError(f"arXiv's OAI-PMH server returned <{root.tag}>, not an OAI-PMH answer")
    page = Page()
    stamp = (root.findtext(f"{{{OAI}}}responseDate") or "").strip()
    if stamp[:10]:
        with contextlib.suppress(ValueError):
            page.response_date = date.fromisoformat(stamp[:10])
    error = root.find(f"{{{OAI}}}error")
    if error is not None:
        code = error.get("code", "unknown")
        if code == "noRecordsMatch":
            return page
        raise OaiProtocolError(code, clean_text(error.text or ""))
    listing = root.find(f"{{{OAI}}}ListRecords")
    if listing is None:
        raise OaiError("arXiv's OAI-PMH answer has neither ListRecords nor an error")
    for element in listing.findall(f"{{{OAI}}}record"):
        header = element.find(f"{{{OAI}}}header")
        identifier = (header.findtext(f"{{{OAI}}}identifier") if header is not None else "") or ""
        if header is not None and header.get("status") == "deleted":
            parsed = parse_arxiv_id(identifier.rpartition(":")[2])
            if parsed is not None:
                page.deleted.append(parsed.base)
            continue
        try:
            page.records.append(parse_metadata(element, prefix))
        except RecordError as exc:
            page.unreadable.append((identifier.strip(), str(exc)))
    token = listing.find(f"{{{OAI}}}resumptionToken")
    if token is not None:
        page.token = (token.text or "").strip() or None
        size = token.get("completeListSize", "")
        page.complete_size = int(size) if size.isdigit() else None
    return page


def parse_metadata(record: ET.Element, prefix: str) -> PaperRecord:
    ns = FORMATS[prefix]
    meta = record.find(f"{{{OAI}}}metadata/{{{ns}}}{prefix}")
    if meta is None:
        raise RecordError(f"the record has no {prefix} metadata")
    return parse_arxiv_raw(meta) if prefix == "arXivRaw" else parse_arxiv(meta)


def _text(meta: ET.Element, tag: str) -> str | None:
    ns = meta.tag.partition("}")[0] + "}"
    value = meta.findtext(f"{ns}{tag}")
    return clean_text(value) if value and value.strip() else None


def _common(meta: ET.Element) -> PaperRecord:
    raw_id = _text(meta, "id") or ""
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        raise RecordError(f"id {raw_id!r} is not an arXiv id")
    title = _text(meta, "title")
    if not title:
        raise RecordError(f"{parsed.base} has no title")
    abstract = _text(meta, "abstract")
    if not abstract:
        raise RecordError(f"{parsed.base} has no abstract")
    return PaperRecord(
        title=title,
        abstract=abstract,
        arxiv_id=parsed.base,
        categories=list(dict.fromkeys((_text(meta, "categories") or "").split())),
        doi=_text(meta, "doi"),
        journal_ref=_text(meta, "journal-ref"),
        arxiv_comments=_text(meta, "comments"),
        report_no=_text(meta, "report-no"),
        license=_text(meta, "license"),
        source="arxiv",
    )


def parse_arxiv_raw(meta: ET.Element) -> PaperRecord:
    """arXivRaw: every version with its date and size; authors as one string."""
    record = _common(meta)
    ns = FORMATS["arXivRaw"]
    for element in meta.findall(f"{{{ns}}}version"):
        label = element.get("version", "")
        when = element.findtext(f"{{{ns}}}date") or ""
        try:
            number = int(label.lstrip("v"))
            submitted = parsedate_to_datetime(when).astimezone(UTC)
        except (TypeError, ValueError):
            raise RecordError(
                f"{record.arxiv_id} has a bad version {label!r} dated {when!r}"
            ) from None
        size = (element.findtext(f"{{{ns}}}size") or "").strip() or None
        record.versions.append(Version(number, submitted, size))
    record.versions.sort(key=lambda v: v.version)
    if record.versions:
        record.published_at = record.versions[0].submitted_at
        record.updated_at = record.versions[-1].submitted_at
    record.authors = split_authors(_text(meta, "authors") or "")
    return record


def parse_arxiv(meta: ET.Element) -> PaperRecord:
    """arXiv: structured authors; only the dates of v1 (`created`) and the latest (`updated`)."""
    record = _common(meta)
    ns = FORMATS["arXiv"]
    record.published_at = _day(meta, "created", record.arxiv_id)
    record.updated_at = _day(meta, "updated", record.arxiv_id) or record.published_at
    for author in meta.findall(f"{{{ns}}}authors/{{{ns}}}author"):
        parts = [author.findtext(f"{{{ns}}}{tag}") or "" for tag in ("forenames", "keyname")]
        suffix = author.findtext(f"{{{ns}}}suffix") or ""
        parts[0] = _INITIAL_DASH.sub(".-", parts[0])  # "C. -P." is "C.-P."
        name = clean_text(" ".join(p for p in (*parts, suffix) if p.strip()))
        if name:
            record.authors.append(tex_to_unicode(name))
    return record


def _day(meta: ET.Element, tag: str, arxiv_id: str | None) -> datetime | None:
    text = _text(meta, tag)
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise RecordError(f"{arxiv_id} has a bad {tag} date {text!r}") from None


_INITIAL_DASH = re.compile(r"\.\s+-")
_AFFILIATION = re.compile(r"\([^()]*\)")
_SEPARATORS = re.compile(r",\s*(?:and\s+)?|\s+and\s+|;\s*")


def split_authors(text: str) -> list[str]:
    """`A. One, B. Two (MIT) and C. Three` -> names, affiliations dropped, TeX accents decoded."""
    text = _AFFILIATION.sub(" ", _AFFILIATION.sub(" ", text))
    return [tex_to_unicode(clean_text(n)) for n in _SEPARATORS.split(text) if n.strip()]


_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303",
            "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
            "c": "\u0327", "k": "\u0328"}  # fmt: skip
_TEX_ACCENT = re.compile(r"\{?\\([`'^\"~=.]|[uvHck](?=[{\s]))\s*\{?\\?([A-Za-z])\}?\}?")
_TEX_LETTERS = {r"\o": "ø", r"\O": "Ø", r"\ss": "ß", r"\ae": "æ", r"\AE": "Æ", r"\l": "ł",
                r"\L": "Ł", r"\aa": "å", r"\AA": "Å", r"\i": "ı"}  # fmt: skip
_TEX_LETTER = re.compile(r"\{?(\\(?:ss|ae|AE|aa|AA|o|O|l|L|i))(?![A-Za-z])\}?")


def tex_to_unicode(name: str) -> str:
    """Decode the TeX accents arXiv's raw author strings use (`Bal\\'azs` -> `Balázs`)."""
    if "\\" not in name:
        return name
    name = _TEX_ACCENT.sub(
        lambda m: unicodedata.normalize("NFC", m.group(2) + _ACCENTS[m.group(1)]), name
    )
    name = _TEX_LETTER.sub(lambda m: _TEX_LETTERS[m.group(1)], name)
    return name.replace("{", "").replace("}", "")


# --- HTTP --------------------------------------------------------------------------------


class OaiClient(PoliteClient):
    """A polite OAI-PMH client: paced, and patient with 503 + Retry-After and network errors."""

    def __init__(
        self, base_url: str, request_interval: float = 3.0, **options: Unpack[ClientOptions]
    ) -> None:
        defaults: ClientOptions = {
            "timeout": 120.0,
            "max_retries": 6,
            "backoff": 5.0,
            "max_backoff": 300.0,
            "max_retry_after": 900.0,
        }
        super().__init__(
            "arXiv's OAI-PMH server", base_url, request_interval, **(defaults | options)
        )
        self.base_url: str = base_url

    @classmethod
    def from_settings(cls, settings: Settings, **options: Unpack[ClientOptions]) -> Self:
        options.setdefault("user_agent", user_agent(settings))
        return cls(settings.arxiv_oai_url, settings.arxiv_request_interval, **options)

    def list_records(self, params: dict[str, str], prefix: str) -> Page:
        def read(response: httpx.Response) -> Page:
            try:
                return parse_page(response.content, prefix)
            except OaiProtocolError:
                raise
            except OaiError as exc:  # a cut-off answer: asking again usually helps
                raise TryAgain(str(exc)) from None

        try:
            return self.get(self.base_url, params, read=read, answers=_is_answer)
        except RemoteRefused as exc:
            raise OaiError(f"{exc}; check PAPERFEED_ARXIV_OAI_URL") from None
        except RemoteUnavailable as exc:
            raise OaiError(
                f"{exc}; run the harvest again later: it resumes where it stopped"
            ) from None


def _is_answer(response: httpx.Response) -> bool:
    """A page, or an OAI-PMH error (some servers send those with a 4xx status)."""
    status = response.status_code
    return status == 200 or (400 <= status < 500 and b"<error" in response.content)


# --- harvesting --------------------------------------------------------------------------


@dataclass
class HarvestStats:
    pages: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    entered_feed: int = 0
    restarts: int = 0
    resumed: bool = False
    complete: bool = False
    from_date: date | None = None
    until_date: date | None = None

    def counts(self) -> dict[str, int]:
        names = ("pages", "added", "updated", "unchanged", "deleted", "skipped", "entered_feed")
        return {name: getattr(self, name) for name in names}


def cursor_source(prefix: str, set_spec: str | None) -> str:
    return f"arxiv-oai:{prefix}:{set_spec or '*'}"


@dataclass(frozen=True)
class HarvestRange:
    """What to harvest: datestamps `from_date..until_date` of one set, in one format.

    Without `from_date`, an unfinished harvest continues, else a new one starts where the
    last complete one ended, else at `default_from` (the worker passes yesterday).
    """

    from_date: date | None = None
    until_date: date | None = None
    set_spec: str | None = None
    prefix: str = "arXivRaw"
    default_from: date | None = None


def _day_or_none(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _iso_or_none(day: date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass
class HarvestCursor:
    """Where a harvest stands; saved with every page (`ingest_cursors.state`, JSON)."""

    from_date: date
    until_date: date | None
    set_spec: str | None
    prefix: str
    token: str | None = None  # the next page's resumption token; None once complete
    complete: bool = False
    started: date | None = None  # the server's date of the first answer
    records: int = 0  # records read so far in this range (for progress)
    next_from: date | None = None  # where the next harvest starts once this one completes

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> HarvestCursor | None:
        if not state or not state.get("from"):
            return None
        return cls(
            from_date=date.fromisoformat(state["from"]),
            until_date=_day_or_none(state.get("until")),
            set_spec=state.get("set"),
            prefix=state.get("prefix", "arXivRaw"),
            token=state.get("token"),
            complete=bool(state.get("complete")),
            started=_day_or_none(state.get("started")),
            records=int(state.get("records", 0)),
            next_from=_day_or_none(state.get("next_from")),
        )

    def state(self) -> dict[str, Any]:
        return {
            "from": self.from_date.isoformat(),
            "until": _iso_or_none(self.until_date),
            "set": self.set_spec,
            "prefix": self.prefix,
            "token": self.token,
            "complete": self.complete,
            "started": _iso_or_none(self.started),
            "records": self.records,
            "next_from": _iso_or_none(self.next_from),
        }

    @property
    def unfinished(self) -> bool:
        return bool(self.token) and not self.complete

    def fresh_params(self) -> dict[str, str]:
        """The range asked for from its start."""
        params = {
            "verb": "ListRecords",
            "metadataPrefix": self.prefix,
            "from": self.from_date.isoformat(),
        }
        if self.until_date:
            params["until"] = self.until_date.isoformat()
        if self.set_spec:
            params["set"] = self.set_spec
        return params

    def next_params(self) -> dict[str, str]:
        return {"verb": "ListRecords", "resumptionToken": self.token or ""}

    def advance(self, page: Page) -> None:
        """Take in a page: its token, its records, and where the next harvest starts."""
        if self.started is None and page.response_date:
            self.started = page.response_date
        self.token = page.token
        self.records += len(page.records) + len(page.deleted) + len(page.unreadable)
        if page.token is None:
            self.complete = True
            self.next_from = self.until_date or self.started


def start_cursor(last: HarvestCursor | None, wanted: HarvestRange) -> HarvestCursor:
    """The cursor of this run: the last one resumed if it is the same unfinished range."""
    from_date, until_date = wanted.from_date, wanted.until_date
    if from_date is None:
        if last is not None and last.unfinished:
            from_date, until_date = last.from_date, last.until_date
        elif last is not None and last.next_from:
            from_date = last.next_from
        elif wanted.default_from is not None:
            from_date = wanted.default_from
        else:
            raise OaiError(
                f"no earlier harvest of {wanted.set_spec or 'all of arXiv'} to continue: "
                "give the first date with --from YYYY-MM-DD"
            )
    cursor = HarvestCursor(from_date, until_date, wanted.set_spec, wanted.prefix)
    if last is None:
        return cursor
    cursor.next_from = last.next_from
    if last.unfinished and (last.from_date, last.until_date) == (from_date, until_date):
        cursor.token, cursor.started, cursor.records = last.token, last.started, last.records
    return cursor


def harvest(
    db: Database,
    settings: Settings,
    client: OaiClient,
    wanted: HarvestRange | None = None,
    *,
    report: Callable[[str, str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop_after_pages: int | None = None,
) -> HarvestStats:
    """Harvest `wanted` (or continue the last harvest), page by page; see `HarvestRange`."""
    wanted = wanted or HarvestRange()
    if wanted.prefix not in FORMATS:
        raise OaiError(
            f"unknown metadata format {wanted.prefix!r}: paperfeed reads {' and '.join(FORMATS)}"
        )
    source = cursor_source(wanted.prefix, wanted.set_spec)
    with db.reader() as session:
        row = session.get(IngestCursor, source)
        last = HarvestCursor.from_state(row.state if row else None)
    cursor = start_cursor(last, wanted)
    stats = HarvestStats(
        resumed=cursor.unfinished, from_date=cursor.from_date, until_date=cursor.until_date
    )
    params = cursor.next_params() if stats.resumed else cursor.fresh_params()
    while True:
        page = _fetch(client, cursor, params, stats, report)
        for identifier, reason in page.unreadable:
            stats.skipped += 1
            if report:
                report(identifier, reason)
        cursor.advance(page)
        _write_page(db, settings, page, stats, source, cursor, report)
        stats.pages += 1
        if progress:
            progress(cursor.records, max(cursor.records, page.complete_size or cursor.records))
        if cursor.complete:
            stats.complete = True
            return stats
        if stop_after_pages is not None and stats.pages >= stop_after_pages:
            return stats
        params = cursor.next_params()


def _fetch(
    client: OaiClient,
    cursor: HarvestCursor,
    params: dict[str, str],
    stats: HarvestStats,
    report: Callable[[str, str], None] | None,
) -> Page:
    """The next page; an expired resumption token asks for the range again from its start."""
    while True:
        try:
            return client.list_records(params, cursor.prefix)
        except OaiProtocolError as exc:
            if exc.code != "badResumptionToken" or "resumptionToken" not in params:
                raise
            stats.restarts += 1
            if stats.restarts > MAX_RESTARTS:
                raise OaiError(
                    f"arXiv keeps refusing resumption tokens ({exc}); try again later"
                ) from None
            log.warning("OAI-PMH: resumption token expired; asking for the range again")
            if report:
                report("", "the resumption token expired; harvesting the range again")
            params, cursor.records = cursor.fresh_params(), 0


def _write_page(
    db: Database,
    settings: Settings,
    page: Page,
    stats: HarvestStats,
    source: str,
    cursor: HarvestCursor,
    report: Callable[[str, str], None] | None,
) -> None:
    """The page's papers, its deletions and the checkpoint, in one transaction."""
    records = [r for r in page.records if r.arxiv_id]
    with db.reader() as session:
        _mark_newcomers(session, settings, records, stats)

    def finish(session: Session) -> None:
        _hide_deleted(session, page.deleted, stats)
        _save_cursor(session, source, cursor)

    written = write_resilient(
        db, [(f"oai:arXiv.org:{r.arxiv_id}", r) for r in records], finish, report
    )
    stats.added += written.added
    stats.updated += written.updated
    stats.unchanged += written.unchanged
    stats.skipped += written.skipped


def _mark_newcomers(
    session: Session, settings: Settings, records: list[PaperRecord], stats: HarvestStats
) -> None:
    """Set `feed_at` on the papers that enter the feed (see `enters_feed`)."""
    if not records:
        return
    known = set(
        session.execute(
            select(Paper.arxiv_id).where(Paper.arxiv_id.in_({r.arxiv_id for r in records}))
        ).scalars()
    )
    now = clock.now()
    newcomers = [r for r in records if r.arxiv_id not in known and enters_feed(settings, r, now)]
    if not newcomers:
        return
    # A local paper of the same title (e.g. from a Daily Papers import) is this paper: it
    # merges, and keeps the feed day it already has.
    keys = [(fast_title_key(r.title), r) for r in newcomers]
    merging = set(
        session.execute(
            select(Paper.title_key).where(Paper.title_key.in_({k for k, _ in keys}))
        ).scalars()
    )
    for key, record in keys:
        if key not in merging:
            record.feed_at = now
            stats.entered_feed += 1


def _hide_deleted(session: Session, deleted: list[str], stats: HarvestStats) -> None:
    if not deleted:
        return
    papers = session.execute(
        select(Paper).where(Paper.arxiv_id.in_(deleted), Paper.hidden_at.is_(None))
    ).scalars()
    for paper in papers:
        paper.hidden_at = clock.now()
        paper.hidden_reason = DELETED_REASON
        touch_paper(session, paper)
        stats.deleted += 1


def enters_feed(settings: Settings, record: PaperRecord, now: datetime) -> bool:
    """Whether a newly harvested paper joins today's feed (`PAPERFEED_HARVEST_FEED`).

    `submissions` (the default, like Hugging Face): none do; papers enter the feed when
    someone submits them. `all`: every new paper announced within the last
    `PAPERFEED_HARVEST_FEED_MAX_AGE_DAYS`. `categories`: those of them with a category in
    `PAPERFEED_HARVEST_FEED_CATEGORIES` (`cs.CL` matches itself, `cs` matches all `cs.*`).
    """
    if settings.harvest_feed == "submissions":
        return False
    first = record.versions[0].submitted_at if record.versions else record.published_at
    if first is None or now - first > timedelta(days=settings.harvest_feed_max_age_days):
        return False
    if settings.harvest_feed == "all":
        return True
    wanted = settings.harvest_feed_categories.replace(",", " ").split()
    return any(c == w or c.startswith(w + ".") for c in record.categories for w in wanted)


def _save_cursor(session: Session, source: str, cursor: HarvestCursor) -> None:
    row = session.get(IngestCursor, source)
    if row is None:
        row = IngestCursor(source=source)
        session.add(row)
    row.cursor = cursor.token or ""
    row.state = cursor.state()
    row.updated_at = clock.now()
