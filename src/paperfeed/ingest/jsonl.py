"""Parsing JSON-lines files: paperfeed's own format and arXiv's metadata snapshot.

Both turn one JSON object into a `PaperRecord` or raise `RecordError` with a reason a
person can act on. See the README ("Import format") for the fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.papers.records import OrganizationRef, PaperRecord, RecordError, Version

MAX_TITLE = 1000
MAX_ABSTRACT = 20000
_WS = re.compile(r"\s+")


@dataclass
class Line:
    number: int
    record: PaperRecord | None
    error: str | None = None


def read_lines(
    stream: BinaryIO, fmt: str = "auto", feed_tz: ZoneInfo | None = None
) -> Iterator[Line]:
    """Yield each non-blank line parsed, or with the reason it could not be."""
    tz = feed_tz or ZoneInfo("UTC")
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Line(
                number, None, f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8"
            )
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Line(number, None, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        try:
            yield Line(number, parse_object(obj, fmt, tz))
        except RecordError as exc:
            yield Line(number, None, str(exc))


def parse_object(obj: Any, fmt: str, tz: ZoneInfo) -> PaperRecord:
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    if fmt == "arxiv-snapshot" or (fmt == "auto" and looks_like_snapshot(obj)):
        return parse_snapshot(obj)
    if fmt not in ("auto", "paperfeed"):
        raise RecordError(f"unknown format {fmt!r}")
    return parse_paperfeed(obj, tz)


def looks_like_snapshot(obj: dict[str, Any]) -> bool:
    return "versions" in obj and ("authors_parsed" in obj or "update_date" in obj)


# --- paperfeed's own format (also the sample corpus's shape) -------------------------------


def parse_paperfeed(obj: dict[str, Any], tz: ZoneInfo) -> PaperRecord:
    title = clean_text(required_str(obj, "title"))
    abstract = clean_text(required_str(obj, "abstract"))
    check_length("title", title, MAX_TITLE)
    check_length("abstract", abstract, MAX_ABSTRACT)
    record = PaperRecord(title=title, abstract=abstract, source="import")
    raw_id = optional_str(obj, "id")
    if raw_id:
        parsed = parse_arxiv_id(raw_id)
        if parsed is None:
            raise RecordError(
                f"id {raw_id!r} is not an arXiv id (like 2401.01234 or hep-th/9901001)"
            )
        record.arxiv_id = parsed.base
    record.authors = parse_authors(obj.get("authors"))
    n_authors = obj.get("n_authors")
    if n_authors is not None:
        if not isinstance(n_authors, int) or isinstance(n_authors, bool) or n_authors < 0:
            raise RecordError("n_authors must be a non-negative integer")
        record.author_count = n_authors
    record.published_at = parse_instant(obj.get("published"), "published", tz)
    record.feed_at = parse_instant(obj.get("feed_date"), "feed_date", tz)
    if record.feed_at is None:
        record.feed_at = record.published_at
    record.categories = parse_categories(obj.get("categories"))
    upvotes = obj.get("upvotes")
    if upvotes is not None:
        if not isinstance(upvotes, int) or isinstance(upvotes, bool) or upvotes < 0:
            raise RecordError("upvotes must be a non-negative integer or null")
        record.upvotes = upvotes
    record.organization = parse_organization(obj.get("organization"))
    record.github_url = parse_url(obj, "github")
    record.project_url = parse_url(obj, "project_page")
    record.doi = optional_str(obj, "doi")
    record.journal_ref = optional_str(obj, "journal_ref")
    record.arxiv_comments = optional_str(obj, "comments")
    record.license = optional_str(obj, "license")
    return record


def parse_authors(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [part for part in re.split(r",\s*|\s+and\s+", value) if part.strip()]
    if not isinstance(value, list):
        raise RecordError("authors must be a list of names")
    names = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            raise RecordError("authors must be a list of non-empty names")
        names.append(clean_text(name))
    return names


def parse_categories(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
        raise RecordError("categories must be a list of names like cs.CL")
    return list(dict.fromkeys(c.strip() for c in value))


def parse_organization(value: Any) -> OrganizationRef | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise RecordError("organization must be a name or an object with a name")
    name = value["name"].strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise RecordError(
            f"organization name {name!r} may hold only letters, digits, '.', '_' and '-'"
        )
    fullname = value.get("fullname") or ""
    if not isinstance(fullname, str):
        raise RecordError("organization fullname must be a string")
    return OrganizationRef(name=name, fullname=clean_text(fullname))


def parse_url(obj: dict[str, Any], key: str) -> str | None:
    value = optional_str(obj, key)
    if value is None:
        return None
    if not re.match(r"https?://[^\s/]+", value):
        raise RecordError(f"{key} must be an http(s) URL")
    return value


def parse_instant(value: Any, key: str, tz: ZoneInfo) -> datetime | None:
    """An ISO date (noon in the feed's zone, safely inside that day) or timestamp."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordError(f"{key} must be an ISO date like 2024-05-17")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time(12), tzinfo=tz).astimezone(UTC)
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{key} {value!r} is not an ISO date like 2024-05-17") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


# --- arXiv's bulk metadata snapshot ------------------------------------------------------


def parse_snapshot(obj: dict[str, Any]) -> PaperRecord:
    raw_id = required_str(obj, "id")
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        raise RecordError(f"id {raw_id!r} is not an arXiv id")
    title = clean_text(required_str(obj, "title"))
    abstract = clean_text(required_str(obj, "abstract"))
    record = PaperRecord(title=title, abstract=abstract, arxiv_id=parsed.base, source="arxiv")
    parsed_authors = obj.get("authors_parsed")
    if isinstance(parsed_authors, list) and parsed_authors:
        record.authors = [snapshot_author(a) for a in parsed_authors if snapshot_author(a)]
    else:
        record.authors = parse_authors(clean_text(optional_str(obj, "authors") or "") or None)
    record.categories = parse_categories(obj.get("categories"))
    record.versions = parse_versions(obj.get("versions"))
    if record.versions:
        record.published_at = record.versions[0].submitted_at
        record.updated_at = record.versions[-1].submitted_at
    record.doi = optional_str(obj, "doi")
    record.journal_ref = clean_optional(optional_str(obj, "journal-ref"))
    record.arxiv_comments = clean_optional(optional_str(obj, "comments"))
    record.report_no = clean_optional(optional_str(obj, "report-no"))
    record.license = optional_str(obj, "license")
    return record


def snapshot_author(parts: Any) -> str:
    if not isinstance(parts, list):
        raise RecordError("authors_parsed must be a list of [last, first, suffix]")
    last, first, suffix = ([*parts, "", "", ""])[:3]
    if isinstance(first, str):
        first = re.sub(r"\.\s+-", ".-", first)  # "C. -P." is how the snapshot spells "C.-P."
    return clean_text(" ".join(p for p in (first, last, suffix) if isinstance(p, str) and p))


def parse_versions(value: Any) -> list[Version]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError("versions must be a list")
    versions = []
    for item in value:
        try:
            number = int(str(item["version"]).lstrip("v"))
            created = parsedate_to_datetime(item["created"]).astimezone(UTC)
        except (KeyError, TypeError, ValueError):
            raise RecordError(f"bad version entry {item!r}") from None
        versions.append(Version(number, created, item.get("size")))
    return sorted(versions, key=lambda v: v.version)


# --- helpers -----------------------------------------------------------------------------


def required_str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"missing {key}" if value is None else f"{key} must be non-empty text")
    return value


def optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{key} must be text or null")
    return value.strip() or None


def clean_text(text: str) -> str:
    """Collapse hard line breaks and runs of spaces (arXiv wraps titles and abstracts)."""
    return _WS.sub(" ", text).strip()


def clean_optional(text: str | None) -> str | None:
    return clean_text(text) if text else None


def check_length(key: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise RecordError(f"{key} is {len(value)} characters long; the limit is {limit}")


def open_input(path: Path) -> BinaryIO:
    return path.open("rb")
