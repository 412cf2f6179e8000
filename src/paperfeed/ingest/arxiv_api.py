"""arXiv's query API, by id: batched, rate limited and retried.

Submissions look a paper up by id, and the harvester fills in papers it only knows by id.
arXiv asks for at most one request every three seconds, and answers with 503 and a
Retry-After when busy, so one `ArxivClient` spaces its requests, retries with backoff, and
asks for up to 100 ids per request. Ids arXiv has no paper for, or rejects as malformed,
are per-id errors (`ArxivIdError`); only a service that keeps failing is an `ArxivError`.

Someone submitting a paper waits on the page, so `ArxivClient.interactive` gives the whole
lookup `PAPERFEED_ARXIV_TIMEOUT` seconds, pacing and retries included. The defaults
(30 s per attempt, 4 retries 2, 4, 8 and 16 s apart) suit a harvest, which can wait: with
arXiv unreachable they kept a submission waiting 31 s (refused at once, five times, then
the backoff), and one whose requests go unanswered 3 minutes.

The API's Atom entries carry the v1 date (`published`) and the date of the version
returned (`updated`), not the full history, so `versions` holds just those two.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self, Unpack

import httpx

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
from paperfeed.papers.ids import ArxivId, parse_arxiv_id
from paperfeed.papers.records import PaperRecord, RecordError, Version
from paperfeed.papers.store import UpsertStats, upsert_papers

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}
BATCH_SIZE = 100
_ERROR_SUBJECT = re.compile(r"incorrect[ _]id[ _]format[ _]for[ _](?P<id>\S+)$", re.I)


class ArxivError(RuntimeError):
    """The arXiv API could not be reached or kept failing; try again later.

    `url` is the API's address as configured and `problem` the last thing that went wrong,
    for the operator ("no answer within 10 s", "network error (ConnectError: ...)").
    """

    def __init__(self, message: str, url: str | None = None, problem: str = "") -> None:
        super().__init__(message)
        self.url = url
        self.problem = problem


class ArxivIdError(RecordError):
    """arXiv has no paper for this id, or rejects the id as malformed."""

    def __init__(self, arxiv_id: str, reason: str) -> None:
        super().__init__(reason)
        self.arxiv_id = arxiv_id


@dataclass
class ArxivRecord(PaperRecord):
    """A `PaperRecord` plus what only the API tells: the version and the links."""

    version: int | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    # One list per author, in the order of `authors` (usually empty: few papers give them).
    affiliations: list[list[str]] = field(default_factory=list)


@dataclass
class Feed:
    """One API response: the papers, arXiv's error messages, and entries we could not read."""

    entries: list[ArxivRecord]
    errors: list[str]
    unreadable: dict[str, str]
    total_results: int | None


@dataclass
class Lookup:
    """The answer to a list of ids, keyed by the ids exactly as they were given."""

    records: dict[str, ArxivRecord] = field(default_factory=dict)
    errors: dict[str, ArxivIdError] = field(default_factory=dict)


# --- parsing -----------------------------------------------------------------------------


def parse_feed(data: bytes) -> Feed:
    """Parse an API response; `ArxivError` if it is not an Atom feed at all."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ArxivError(f"the arXiv API returned malformed XML ({exc})") from None
    if root.tag != f"{{{NS['atom']}}}feed":
        raise ArxivError(f"the arXiv API returned <{root.tag}>, not an Atom feed")
    total = (root.findtext("opensearch:totalResults", "", NS) or "").strip()
    feed = Feed([], [], {}, int(total) if total.isdigit() else None)
    for entry in root.findall("atom:entry", NS):
        entry_id = (entry.findtext("atom:id", "", NS) or "").strip()
        title = clean_text(entry.findtext("atom:title", "", NS) or "")
        if "/api/errors" in entry_id or (title == "Error" and parse_arxiv_id(entry_id) is None):
            summary = clean_text(entry.findtext("atom:summary", "", NS) or "")
            feed.errors.append(summary or entry_id.partition("#")[2].replace("_", " "))
            continue
        try:
            feed.entries.append(parse_entry(entry))
        except RecordError as exc:
            feed.unreadable[entry_id] = str(exc)
    return feed


def parse_entry(entry: ET.Element) -> ArxivRecord:
    """One `<entry>` as a record: collapsed whitespace, UTC dates, primary category first."""
    raw_id = (entry.findtext("atom:id", "", NS) or "").strip()
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        raise RecordError(f"entry id {raw_id!r} is not an arXiv abstract URL")
    title = clean_text(entry.findtext("atom:title", "", NS) or "")
    if not title:
        raise RecordError(f"the entry for {parsed} has no title")
    authors: list[str] = []
    affiliations: list[list[str]] = []
    for author in entry.findall("atom:author", NS):
        name = clean_text(author.findtext("atom:name", "", NS) or "")
        if name:
            authors.append(name)
            affiliations.append(
                [
                    clean_text(a.text)
                    for a in author.findall("arxiv:affiliation", NS)
                    if a.text and a.text.strip()
                ]
            )
    published = _instant(entry, "published")
    updated = _instant(entry, "updated")
    versions = [Version(1, published)] if published else []
    if parsed.version and parsed.version > 1 and updated:
        versions.append(Version(parsed.version, updated))
    primary = entry.find("arxiv:primary_category", NS)
    terms = [primary.get("term")] if primary is not None else []
    terms += [c.get("term") for c in entry.findall("atom:category", NS)]
    links = entry.findall("atom:link", NS)
    return ArxivRecord(
        title=title,
        abstract=clean_text(entry.findtext("atom:summary", "", NS) or ""),
        arxiv_id=parsed.base,
        authors=authors,
        published_at=published,
        updated_at=updated,
        versions=versions,
        categories=list(dict.fromkeys(t.strip() for t in terms if t and t.strip())),
        doi=_optional(entry, "arxiv:doi"),
        journal_ref=_optional(entry, "arxiv:journal_ref"),
        arxiv_comments=_optional(entry, "arxiv:comment"),
        source="arxiv",
        version=parsed.version,
        abs_url=next((ln.get("href") for ln in links if ln.get("rel") == "alternate"), None),
        pdf_url=next((ln.get("href") for ln in links if ln.get("title") == "pdf"), None),
        affiliations=affiliations,
    )


def _instant(entry: ET.Element, tag: str) -> datetime | None:
    text = (entry.findtext(f"atom:{tag}", "", NS) or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{tag} {text!r} is not an ISO timestamp") from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _optional(entry: ET.Element, path: str) -> str | None:
    return clean_text(entry.findtext(path, "", NS) or "") or None


def _match_key(base: str) -> str:
    """arXiv answers `math.DG/0211159` as `math/0211159`: compare without the subject class."""
    archive, slash, number = base.partition("/")
    return f"{archive.split('.')[0]}/{number}" if slash else base


# --- HTTP ---------------------------------------------------------------------------------


class ArxivClient(PoliteClient):
    """A polite client of the arXiv query API (`PAPERFEED_ARXIV_API_URL`).

    Every client of the API's host in this process shares one pace (or pass one `limiter`
    to pace several clients together).
    """

    def __init__(
        self,
        base_url: str,
        request_interval: float = 3.0,
        *,
        batch_size: int = BATCH_SIZE,
        lookup_timeout: float | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        # Seconds one `lookup` may take in all (None: as long as its retries take).
        self.lookup_timeout = lookup_timeout
        defaults: ClientOptions = {"timeout": 30.0, "max_retries": 4, "backoff": 2.0}
        super().__init__(
            "the arXiv API",
            base_url,
            request_interval,
            headers={"Accept": "application/atom+xml"},
            **(defaults | options),
        )
        self.base_url: str = base_url

    @classmethod
    def from_settings(cls, settings: Settings, **options: Unpack[ClientOptions]) -> Self:
        """The client of `PAPERFEED_ARXIV_API_URL`, telling arXiv which site is asking."""
        options.setdefault("user_agent", user_agent(settings))
        return cls(settings.arxiv_api_url, settings.arxiv_request_interval, **options)

    @classmethod
    def interactive(cls, settings: Settings) -> Self:
        """The client for someone waiting on a page: each lookup, pacing and retries
        included, ends within `PAPERFEED_ARXIV_TIMEOUT`, retrying soon rather than long."""
        return cls(
            settings.arxiv_api_url,
            settings.arxiv_request_interval,
            lookup_timeout=settings.arxiv_timeout,
            user_agent=user_agent(settings),
            backoff=1.0,
        )

    # --- lookups -------------------------------------------------------------------------

    def fetch(self, ids: Iterable[str]) -> dict[str, ArxivRecord]:
        """The papers arXiv has, keyed by the ids as given; the others are left out."""
        return self.lookup(ids).records

    def fetch_one(self, arxiv_id: str) -> ArxivRecord:
        """One paper, or `ArxivIdError` saying why there is none."""
        result = self.lookup([arxiv_id])
        if arxiv_id in result.errors:
            raise result.errors[arxiv_id]
        return result.records[arxiv_id]

    def lookup(self, ids: Iterable[str]) -> Lookup:
        """Every id answered: a record, or an `ArxivIdError` (malformed, or no such paper)."""
        asked = {raw: parse_arxiv_id(raw) for raw in ids}
        pending = list(dict.fromkeys(aid for aid in asked.values() if aid is not None))
        found: dict[ArxivId, ArxivRecord] = {}
        rejected: dict[ArxivId, str] = {}
        deadline = None if self.lookup_timeout is None else self._clock() + self.lookup_timeout
        for start in range(0, len(pending), self.batch_size):
            batch_found, batch_rejected = self._fetch_batch(
                pending[start : start + self.batch_size], deadline
            )
            found.update(batch_found)
            rejected.update(batch_rejected)
        result = Lookup()
        for raw, aid in asked.items():
            if aid is None:
                reason = f"{raw!r} is not an arXiv id (like 2401.01234 or hep-th/9901001)"
                result.errors[raw] = ArxivIdError(raw, reason)
            elif aid in found:
                result.records[raw] = found[aid]
            else:
                result.errors[raw] = ArxivIdError(raw, rejected[aid])
        return result

    def _fetch_batch(
        self, batch: list[ArxivId], deadline: float | None = None
    ) -> tuple[dict[ArxivId, ArxivRecord], dict[ArxivId, str]]:
        """Query a batch; an id arXiv rejects spoils its whole request, so drop it and re-ask."""
        found: dict[ArxivId, ArxivRecord] = {}
        rejected: dict[ArxivId, str] = {}
        queue = [batch]
        while queue:
            part = queue.pop()
            feed = self._query(part, deadline)
            found.update(_match(feed.entries, part))
            culprits = _attribute(feed.errors, part)
            rejected.update({aid: f"arXiv rejects the id {aid}: {msg}" for aid, msg in culprits})
            rest = [aid for aid in part if aid not in found and aid not in rejected]
            if feed.errors and not feed.entries and rest:
                # The request was refused as a whole: ask again without the culprits, or
                # halve it until the bad id is alone.
                if culprits:
                    queue.append(rest)
                elif len(rest) == 1:
                    rejected[rest[0]] = f"arXiv rejects the id {rest[0]}: {feed.errors[0]}"
                else:
                    queue += [rest[: len(rest) // 2], rest[len(rest) // 2 :]]
                continue
            for aid in rest:
                problem = next(
                    (why for eid, why in feed.unreadable.items() if _entry_is(eid, aid)), None
                )
                rejected[aid] = (
                    f"arXiv's record of {aid} could not be read: {problem}"
                    if problem
                    else f"arXiv has no paper {aid}"
                )
        return found, rejected

    def _query(self, batch: list[ArxivId], deadline: float | None = None) -> Feed:
        params = {
            "id_list": ",".join(str(aid) for aid in batch),
            "start": "0",
            "max_results": str(len(batch)),
        }
        try:
            return self.get(
                self.base_url, params, read=_read_feed, answers=_is_answer, deadline=deadline
            )
        except RemoteRefused as exc:
            raise ArxivError(
                f"{exc}: check PAPERFEED_ARXIV_API_URL", exc.url, f"HTTP {exc.status}"
            ) from None
        except RemoteUnavailable as exc:
            raise ArxivError(f"{exc}; try again later", exc.url, exc.problem) from None


def _is_answer(response: httpx.Response) -> bool:
    """A feed, or arXiv's 400 with an Atom error entry (an id it rejects)."""
    status = response.status_code
    return status == 200 or (status == 400 and b"/api/errors" in response.content)


def _read_feed(response: httpx.Response) -> Feed:
    if response.status_code != 200:
        return parse_feed(response.content)
    try:
        return parse_feed(response.content)
    except ArxivError as exc:  # a cut-off answer: asking again usually helps
        raise TryAgain(str(exc)) from None


def _entry_is(entry_id: str, aid: ArxivId) -> bool:
    parsed = parse_arxiv_id(entry_id)
    return parsed is not None and _match_key(parsed.base) == _match_key(aid.base)


def _match(entries: list[ArxivRecord], batch: list[ArxivId]) -> dict[ArxivId, ArxivRecord]:
    """Pair entries with the ids asked for: by version when one was given, else the latest."""
    by_key: dict[str, list[ArxivRecord]] = {}
    for record in entries:
        by_key.setdefault(_match_key(record.arxiv_id or ""), []).append(record)
    found: dict[ArxivId, ArxivRecord] = {}
    for aid in batch:
        candidates = by_key.get(_match_key(aid.base), [])
        if aid.version is not None:
            candidates = [r for r in candidates if r.version == aid.version]
        if candidates:
            found[aid] = max(candidates, key=lambda r: r.version or 0)
    return found


def _attribute(errors: list[str], batch: list[ArxivId]) -> list[tuple[ArxivId, str]]:
    """Which ids arXiv's error messages ("incorrect id format for X") are about."""
    by_text = {str(aid): aid for aid in batch}
    culprits = []
    for message in errors:
        match = _ERROR_SUBJECT.search(message)
        if match and match.group("id") in by_text:
            culprits.append((by_text[match.group("id")], message))
    return culprits


# --- ingesting by id ---------------------------------------------------------------------


def ingest_ids(
    db: Database,
    client: ArxivClient,
    ids: Iterable[str],
    report: Callable[[str, str], None] | None = None,
) -> UpsertStats:
    """Fetch papers by id and write them, one transaction per batch of `client.batch_size`.

    A long list is paced by the client (one request per interval) and each batch is
    committed as it arrives, so an interrupted run keeps what it fetched and a re-run
    changes nothing it already has. Ids arXiv does not know are reported and skipped.
    """
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    stats = UpsertStats()
    for start in range(0, len(wanted), client.batch_size):
        result = client.lookup(wanted[start : start + client.batch_size])
        for raw, error in result.errors.items():
            stats.skipped += 1
            if report:
                report(raw, str(error))
        records = list({r.arxiv_id: r for r in result.records.values()}.values())
        if records:
            with db.transaction() as session:
                stats.merge(upsert_papers(session, records))
    return stats
