"""Paper identifiers: arXiv ids (both styles, with or without version) and local ids.

A paper's public id is its arXiv id without version (`2401.01234`, `hep-th/9901001`).
Papers that have no arXiv id get `pf-` plus a hash of their normalized title, so the same
title always gives the same id and a later arXiv record of that paper can be merged.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

NEW_STYLE = r"\d{4}\.\d{4,5}"
OLD_STYLE = r"[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}"
_ARXIV_ID = re.compile(rf"^(?P<base>{NEW_STYLE}|{OLD_STYLE})(?:v(?P<version>\d+))?$")
_ARXIV_URL = re.compile(
    rf"arxiv\.org/(?:abs|pdf|html)/(?P<id>(?:{NEW_STYLE}|{OLD_STYLE})(?:v\d+)?)", re.I
)
_LOCAL_ID = re.compile(r"^pf-[0-9a-f]{12}$")
MAX_ID_LENGTH = 64  # longer than any id or alias we issue; longer input names no paper


@dataclass(frozen=True)
class ArxivId:
    base: str
    version: int | None = None

    def __str__(self) -> str:
        return self.base if self.version is None else f"{self.base}v{self.version}"


def parse_arxiv_id(text: str) -> ArxivId | None:
    """Parse `2401.01234`, `2401.01234v2`, `hep-th/9901001`, `arXiv:...` or an arxiv.org URL."""
    text = text.strip()
    match = _ARXIV_URL.search(text)
    if match:
        text = match.group("id")
    if text.lower().startswith("arxiv:"):
        text = text[6:]
    if text.endswith(".pdf"):
        text = text[:-4]
    match = _ARXIV_ID.match(text)
    if not match:
        return None
    version = match.group("version")
    return ArxivId(match.group("base"), int(version) if version else None)


def canonical_id(text: str) -> str | None:
    """The public id that an id in an address or a form names; None if it cannot name one.

    Every route that takes a paper id (the page, `.bib`, `.md`, the API, upvotes, comments,
    claims) calls this one function, so they all accept the same forms: `2401.01234`,
    `2401.01234v2`, `arXiv:2401.01234`, an arxiv.org link, `hep-th/9901001`, and local ids
    or old aliases as they are. A route whose id differs from the answer redirects to it.
    """
    text = text.strip().strip("/")
    if not text or len(text) > MAX_ID_LENGTH:
        return None
    parsed = parse_arxiv_id(text)
    return parsed.base if parsed is not None else text


def is_local_id(text: str) -> bool:
    return bool(_LOCAL_ID.match(text))


def normalize_title(title: str) -> str:
    """Lowercase letters and digits only, so punctuation and spacing never split a paper."""
    folded = unicodedata.normalize("NFKD", title).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def title_key(title: str) -> str:
    return hashlib.sha1(normalize_title(title).encode()).hexdigest()


def local_id_for(title: str) -> str:
    return "pf-" + title_key(title)[:12]
