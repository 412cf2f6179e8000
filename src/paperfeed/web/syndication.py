"""RSS 2.0 and Atom 1.0 documents for any list of papers.

Built with `xml.etree`, so every title, name and abstract is escaped by the serializer;
characters XML 1.0 forbids (control characters that slip into metadata) are dropped
first, since no escaping can carry them. Links are absolute, from `PAPERFEED_SITE_URL`.
An entry's id is its paper's address, the same in every feed, so a reader that follows
the daily feed and a search never shows one paper twice. Feed readers cannot render MathML
reliably, so titles, which they show in lists and notifications, are plain text with each
formula as Unicode (`latex.plain_text`: `$\\alpha^2$` is `α²`); abstracts keep their LaTeX
source, which says more than any plain rendering of a long formula.

RSS 2.0 descriptions are HTML by definition (readers render them, and drop what looks like a
tag), so an abstract goes in as HTML whose text is the abstract: escaped for HTML, then once
more by the XML serializer. `called <projektor>,` and `0<delta<1` survive in every reader.
Atom says what it holds (`type="text"`), so there the abstract goes in as it is.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime

from paperfeed import __version__
from paperfeed.latex import plain_text
from paperfeed.models import Paper
from paperfeed.web.listings import Listing

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
ARXIV_SCHEME = "http://arxiv.org/schemas/atom"
RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str | None) -> str:
    """Text XML 1.0 can hold: forbidden control characters removed."""
    return _NOT_XML.sub("", text or "")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rfc822(value: datetime) -> str:
    return format_datetime(_aware(value).astimezone(UTC), usegmt=True)


def rfc3339(value: datetime) -> str:
    return _aware(value).astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def paper_url(site_url: str, paper: Paper) -> str:
    return f"{site_url.rstrip('/')}/papers/{paper.public_id}"


def entry_published(paper: Paper) -> datetime:
    """When the paper appeared here (its feed instant), else when it was published."""
    return _aware(paper.feed_at or paper.published_at or paper.created_at)


def entry_updated(paper: Paper) -> datetime:
    """The latest version's date when it is later than the entry's publication."""
    published = entry_published(paper)
    if paper.updated_at is not None and _aware(paper.updated_at) > published:
        return _aware(paper.updated_at)
    return published


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_"): clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = clean(text)
    return element


def html_text(text: str | None) -> str:
    """HTML whose visible text is `text` (for RSS descriptions, which readers treat as HTML)."""
    return html.escape(clean(text), quote=False)


def _serialize(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def rss(listing: Listing, site_url: str, self_url: str, updated: datetime) -> bytes:
    """An RSS 2.0 channel: one item per paper, in the list's order."""
    site = site_url.rstrip("/")
    root = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS, "xmlns:dc": DC_NS})
    channel = _sub(root, "channel")
    _sub(channel, "title", listing.title)
    _sub(channel, "link", site + listing.page_path)
    _sub(channel, "description", html_text(listing.description))
    _sub(channel, "atom:link", href=self_url, rel="self", type=RSS_TYPE)
    _sub(channel, "lastBuildDate", rfc822(updated))
    _sub(channel, "generator", f"paperfeed {__version__}")
    _sub(channel, "docs", "https://www.rssboard.org/rss-specification")
    for paper in listing.papers:
        link = paper_url(site, paper)
        item = _sub(channel, "item")
        _sub(item, "title", plain_text(paper.title))
        _sub(item, "link", link)
        _sub(item, "guid", link, isPermaLink="true")
        _sub(item, "description", html_text(paper.abstract))
        for name in listing.authors.get(paper.id, []):
            _sub(item, "dc:creator", name)
        for category in paper.category_list:
            _sub(item, "category", category, domain=ARXIV_SCHEME)
        _sub(item, "pubDate", rfc822(entry_published(paper)))
        _sub(item, "comments", f"{link}#comments")
    return _serialize(root)


def atom(listing: Listing, site_url: str, self_url: str, updated: datetime) -> bytes:
    """An Atom 1.0 feed: one entry per paper, in the list's order."""
    site = site_url.rstrip("/")
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(root, "id", site + listing.page_path)
    _sub(root, "title", listing.title)
    _sub(root, "subtitle", listing.description)
    _sub(root, "updated", rfc3339(updated))
    _sub(root, "link", rel="alternate", type="text/html", href=site + listing.page_path)
    _sub(root, "link", rel="self", type=ATOM_TYPE, href=self_url)
    _sub(root, "generator", "paperfeed", version=__version__)
    # Entries whose author names are unknown inherit this one (Atom requires an author).
    feed_author = _sub(root, "author")
    _sub(feed_author, "name", listing.title.rsplit(" · ", 1)[-1])
    _sub(feed_author, "uri", site + "/")
    for paper in listing.papers:
        link = paper_url(site, paper)
        entry = _sub(root, "entry")
        _sub(entry, "id", link)
        _sub(entry, "title", plain_text(paper.title), type="text")
        _sub(entry, "link", rel="alternate", type="text/html", href=link)
        if paper.arxiv_id:
            _sub(entry, "link", rel="related", href=f"https://arxiv.org/abs/{paper.arxiv_id}")
        _sub(entry, "published", rfc3339(entry_published(paper)))
        _sub(entry, "updated", rfc3339(entry_updated(paper)))
        for name in listing.authors.get(paper.id, []):
            _sub(_sub(entry, "author"), "name", name)
        for category in paper.category_list:
            _sub(entry, "category", term=category, scheme=ARXIV_SCHEME)
        _sub(entry, "summary", paper.abstract, type="text")
    return _serialize(root)
