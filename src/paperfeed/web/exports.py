"""Exports: BibTeX and Markdown for one paper, CSV and JSON lines for any list.

BibTeX is read by LaTeX, so math (`$...$`, `\\(...\\)`) and TeX commands already in arXiv
metadata pass through, while the characters TeX treats specially in running text (`& % #
_` and a lone `$ ~ ^ \\`) are escaped and unbalanced braces are neutralised (BibTeX counts
braces even after a backslash, so one stray brace would swallow the rest of the file).
Accented Latin letters become TeX accents (`é` -> `{\\'e}`) so classic BibTeX sorts and
prints them; other characters stay UTF-8. Words with inner capitals (`BERT`, `LaTeX`) are
braced so bibliography styles keep their case.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from paperfeed.models import Organization, Paper
from paperfeed.web.listings import Listing

# --- shared text helpers --------------------------------------------------------------------

_MATH = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|(?<!\\)\$[^$]+?(?<!\\)\$|\\\(.+?\\\)", re.S)


def split_math(text: str) -> Iterator[tuple[bool, str]]:
    """(is_math, part) pieces of the text, math as `latex.py` recognises it."""
    position = 0
    for match in _MATH.finditer(text):
        if match.start() > position:
            yield False, text[position : match.start()]
        yield True, match.group(0)
        position = match.end()
    if position < len(text):
        yield False, text[position:]


def _date(value: datetime | None) -> str:
    if value is None:
        return ""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date().isoformat()


def _local_date(value: datetime | None, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz).date().isoformat()


def arxiv_links(paper: Paper) -> tuple[str, str] | None:
    if not paper.arxiv_id:
        return None
    return f"https://arxiv.org/abs/{paper.arxiv_id}", f"https://arxiv.org/pdf/{paper.arxiv_id}"


# --- BibTeX ---------------------------------------------------------------------------------

_ACCENTS = {
    "\u0301": "'",
    "\u0300": "`",
    "\u0302": "^",
    "\u0308": '"',
    "\u0303": "~",
    "\u0304": "=",
    "\u0307": ".",
    "\u0327": "c",
    "\u030c": "v",
    "\u0306": "u",
    "\u030a": "r",
    "\u030b": "H",
    "\u0328": "k",
}
_LETTERS = {
    "ß": r"{\ss}",
    "æ": r"{\ae}",
    "Æ": r"{\AE}",
    "ø": r"{\o}",
    "Ø": r"{\O}",
    "ł": r"{\l}",
    "Ł": r"{\L}",
    "œ": r"{\oe}",
    "Œ": r"{\OE}",
    "å": r"{\aa}",
    "Å": r"{\AA}",
    "ı": r"{\i}",
}
_TEXT_SPECIALS = {
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "$": r"\$",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
# A TeX command already in the metadata: `\alpha`, `\'e`, `\"{o}`, `\&`.
_COMMAND = re.compile(r"\\(?:[A-Za-z]+|['`^\"~=.&%#_$])")
# A plain word that may need its case kept; never the name of a TeX command (`\LaTeX`).
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]")
_STOP_WORDS = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "at", "by"}


def _tex_letter(char: str) -> str:
    if char in _LETTERS:
        return _LETTERS[char]
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if len(marks) == 1 and base.isascii() and base.isalpha() and marks in _ACCENTS:
        accent = _ACCENTS[marks]
        base = r"\i" if base == "i" and accent in "'`^\"~=" else base
        sep = " " if accent.isalpha() else ""
        return f"{{\\{accent}{sep}{base}}}"
    return char


def _escape_text(text: str) -> str:
    """Running text (outside math) made safe for a braced BibTeX field."""
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\":
            command = _COMMAND.match(text, position)
            if command:
                out.append(command.group(0))
                position = command.end()
                continue
            out.append(r"\textbackslash{}")
        elif char in _TEXT_SPECIALS:
            out.append(_TEXT_SPECIALS[char])
        elif not char.isascii():
            out.append(_tex_letter(char))
        else:
            out.append(char)
        position += 1
    return "".join(out)


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _protect_case(word: str) -> str:
    """Brace a word with a capital after its first letter (BERT, GPT-4, LaTeX, iPhone)."""
    if "{" in word or "\\" in word or "$" in word:
        return word
    letters = [c for c in word if c.isalpha()]
    if len(letters) > 1 and any(c.isupper() for c in letters[1:]):
        return "{" + word + "}"
    return word


def bibtex_text(text: str, protect_case: bool = False) -> str:
    """A field value: math kept, specials escaped, braces balanced, optionally case-protected."""
    text = " ".join(text.split())
    if not _balanced(text):
        text = text.replace("{", "(").replace("}", ")")
    parts: list[str] = []
    for is_math, part in split_math(text):
        if is_math:
            parts.append(part if _balanced(part) else part.replace("{", "(").replace("}", ")"))
            continue
        if protect_case:
            part = _WORD.sub(lambda m: _protect_case(m.group(0)), part)
            # Keep the braces added for case, escape everything else.
            pieces = re.split(r"(\{[^{}\s]+\})", part)
            part = "".join(
                "{" + _escape_text(p[1:-1]) + "}"
                if p.startswith("{") and p.endswith("}")
                else _escape_text(p)
                for p in pieces
            )
        else:
            part = _escape_text(part)
        parts.append(part)
    return "".join(parts)


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def last_name(author: str) -> str:
    """The family name: after a comma form's comma is before it; else the last word."""
    author = author.strip()
    if "," in author:
        return author.split(",", 1)[0].strip()
    words = author.split()
    return words[-1] if words else ""


def citation_key(paper: Paper, authors: list[str]) -> str:
    """`lastname2026firstword`: first author's family name, year, first significant word."""
    name = _ascii_word(last_name(authors[0])) if authors else ""
    stamp = paper.published_at or paper.feed_at or paper.created_at
    year = str(stamp.year) if stamp else ""
    plain = "".join(part for is_math, part in split_math(paper.title) if not is_math)
    words = [_ascii_word(w) for w in re.split(r"[\s\-–—:/]+", plain)]
    significant = [w for w in words if w and w not in _STOP_WORDS]
    first = significant[0] if significant else (words[0] if words and words[0] else "paper")
    return f"{name or 'anonymous'}{year}{first}"


def bibtex(paper: Paper, authors: list[str], site_url: str) -> str:
    """One BibTeX entry: `@article` when a journal reference is known, else `@misc`."""
    fields: list[tuple[str, str]] = [("title", bibtex_text(paper.title, protect_case=True))]
    if authors:
        fields.append(("author", " and ".join(bibtex_text(a) for a in authors)))
    elif paper.author_count:
        fields.append(("author", "others"))
    stamp = paper.published_at or paper.feed_at
    if stamp is not None:
        fields.append(("year", str(stamp.year)))
        fields.append(("month", stamp.strftime("%b").lower()))
    if paper.journal_ref:
        fields.append(("journal", bibtex_text(paper.journal_ref)))
    if paper.doi:
        fields.append(("doi", bibtex_text(paper.doi)))
    if paper.arxiv_id:
        fields.append(("eprint", paper.arxiv_id))
        fields.append(("archivePrefix", "arXiv"))
        if paper.primary_category or paper.category_list:
            fields.append(("primaryClass", paper.primary_category or paper.category_list[0]))
        fields.append(("url", f"https://arxiv.org/abs/{paper.arxiv_id}"))
    else:
        fields.append(("url", f"{site_url.rstrip('/')}/papers/{paper.public_id}"))
    kind = "article" if paper.journal_ref else "misc"
    width = max(len(name) for name, _ in fields)
    body = ",\n".join(
        # Months are BibTeX macros (`apr`), written bare so styles print them localized.
        f"  {name.ljust(width)} = {value if name == 'month' else '{' + value + '}'}"
        for name, value in fields
    )
    return f"@{kind}{{{citation_key(paper, authors)},\n{body}\n}}\n"


# --- Markdown -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def markdown_text(text: str) -> str:
    """Text for a Markdown line: Markdown's specials escaped outside math, math left alone."""
    text = " ".join(text.split())
    return "".join(
        part if is_math else _MD_SPECIAL.sub(r"\\\1", part) for is_math, part in split_math(text)
    )


@dataclass
class MarkdownComment:
    author: str
    created_at: datetime
    body: str
    replies: list[MarkdownComment]


def markdown(
    paper: Paper,
    authors: list[str],
    organization: Organization | None,
    comments: list[MarkdownComment],
    site_url: str,
    tz: ZoneInfo,
) -> str:
    """A paper as a Markdown note: title, authors, dates, links, abstract, comments."""
    site = site_url.rstrip("/")
    url = f"{site}/papers/{paper.public_id}"
    lines = [f"# {markdown_text(paper.title)}", ""]
    if authors:
        lines.append(f"**Authors:** {markdown_text(', '.join(authors))}  ")
    elif paper.author_count:
        lines.append(f"**Authors:** {paper.author_count} authors  ")
    if organization is not None:
        name = markdown_text(organization.fullname or organization.name)
        lines.append(f"**Organization:** [{name}]({site}/orgs/{organization.name})  ")
    dates = []
    if paper.published_at:
        dates.append(f"published {_date(paper.published_at)}")
    if paper.updated_at and _date(paper.updated_at) != _date(paper.published_at):
        dates.append(f"updated {_date(paper.updated_at)} (v{paper.latest_version})")
    if paper.feed_at:
        dates.append(f"in the feed {_local_date(paper.feed_at, tz)}")
    if dates:
        lines.append(f"**Dates:** {', '.join(dates)}  ")
    if paper.category_list:
        lines.append(f"**Categories:** {', '.join(paper.category_list)}  ")
    upvotes = "upvote" if paper.upvotes == 1 else "upvotes"
    said = "comment" if paper.comment_count == 1 else "comments"
    lines.append(f"**Upvotes:** {paper.upvotes} {upvotes} · {paper.comment_count} {said}  ")
    links = [f"[{paper.public_id}]({url})"]
    arxiv = arxiv_links(paper)
    if arxiv:
        links += [f"[arXiv:{paper.arxiv_id}]({arxiv[0]})", f"[PDF]({arxiv[1]})"]
    if paper.doi:
        links.append(f"[DOI {markdown_text(paper.doi)}](https://doi.org/{paper.doi})")
    if paper.github_url:
        links.append(f"[Code]({paper.github_url})")
    if paper.project_url:
        links.append(f"[Project page]({paper.project_url})")
    lines.append(f"**Links:** {' · '.join(links)}")
    if paper.journal_ref:
        lines[-1] += "  "
        lines.append(f"**Journal:** {markdown_text(paper.journal_ref)}")
    lines += ["", "## Abstract", "", markdown_text(paper.abstract) or "_No abstract._"]
    if comments:
        lines += ["", "## Comments", ""]
        for comment in comments:
            lines += _comment_lines(comment, tz, depth=0)
    return "\n".join(lines).rstrip() + "\n"


def _comment_lines(comment: MarkdownComment, tz: ZoneInfo, depth: int) -> list[str]:
    """A comment as a quoted block: its Markdown source is kept, set apart by `>`."""
    prefix = "> " * (depth + 1)
    head = f"{prefix}**{markdown_text(comment.author)}**, {_local_date(comment.created_at, tz)}:"
    body = [f"{prefix}{line}".rstrip() for line in comment.body.splitlines()]
    out = [head, prefix.rstrip(), *body, ""]
    for reply in comment.replies:
        out += _comment_lines(reply, tz, depth + 1)
    return out


# --- CSV and JSON lines -----------------------------------------------------------------

COLUMNS = (
    "rank",
    "id",
    "title",
    "authors",
    "author_count",
    "organization",
    "published",
    "feed_date",
    "upvotes",
    "comments",
    "score",
    "categories",
    "url",
    "arxiv_url",
    "pdf_url",
    "doi",
    "journal_ref",
    "github",
    "project_page",
    "abstract",
)


def rows(listing: Listing, site_url: str, tz: ZoneInfo, first_rank: int = 1) -> Iterator[dict]:
    """One dict per paper, the same fields for CSV and JSON lines."""
    site = site_url.rstrip("/")
    for rank, paper in enumerate(listing.papers, start=first_rank):
        org = listing.organizations.get(paper.organization_id) if paper.organization_id else None
        arxiv = arxiv_links(paper)
        score = listing.scores.get(paper.id)
        yield {
            "rank": rank,
            "id": paper.public_id,
            "title": paper.title,
            "authors": listing.authors.get(paper.id, []),
            "author_count": max(paper.author_count, len(listing.authors.get(paper.id, []))),
            "organization": org.name if org else None,
            "published": _date(paper.published_at) or None,
            "feed_date": _local_date(paper.feed_at, tz) or None,
            "upvotes": paper.upvotes,
            "comments": paper.comment_count,
            "score": round(score, 6) if score is not None else None,
            "categories": paper.category_list,
            "url": f"{site}/papers/{paper.public_id}",
            "arxiv_url": arxiv[0] if arxiv else None,
            "pdf_url": arxiv[1] if arxiv else None,
            "doi": paper.doi,
            "journal_ref": paper.journal_ref,
            "github": paper.github_url,
            "project_page": paper.project_url,
            "abstract": paper.abstract,
        }


def to_csv(records: Iterable[dict]) -> str:
    """RFC 4180 CSV with a header row; lists are joined with "; " (authors) or spaces."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow(
            [
                "; ".join(value)
                if key == "authors"
                else " ".join(value)
                if isinstance(value, list)
                else ("" if value is None else value)
                for key, value in ((k, record[k]) for k in COLUMNS)
            ]
        )
    return buffer.getvalue()


def to_jsonl(records: Iterable[dict]) -> str:
    """One JSON object per line (UTF-8, no ASCII escapes), lists kept as arrays."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
