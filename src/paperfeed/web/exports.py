"""Exports: BibTeX and Markdown for one paper, CSV and JSON lines for any list.

BibTeX is read by LaTeX, so math (`$...$`, `\\(...\\)`) and TeX commands already in arXiv
metadata pass through, but only commands on an allow-list of harmless ones (math symbols and
structures, accents, special letters, font commands): anyone can post metadata to arXiv,
and `\\input`, `\\write18`, `\\def` or `\\catcode` would run on the citing author's machine,
so any other command is escaped to text, and a formula holding one is written as text. The
characters TeX treats specially in running text (`& % # _` and a lone `$ ~ ^ \\`) are
escaped and unbalanced braces are neutralised (BibTeX counts braces even after a backslash,
so one stray brace would swallow the rest of the file). DOIs and URLs are verbatim fields
(biblatex and the `doi`/`url` packages read them as written, pybtex returns them as they
are), so they are not escaped; only the characters that would break the braces are
percent-encoded. Authors with a suffix (`Neal J. Evans II`) are written `Evans, II, Neal J.`
so BibTeX reads the suffix as a suffix, not as the family name.
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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from paperfeed.models import Organization, Paper
from paperfeed.plurals import plural
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


def _names(*parts: str) -> frozenset[str]:
    return frozenset(" ".join(parts).split())


# Harmless commands that pass through. Everything else (`\input`, `\include`, `\write18`,
# `\openin`, `\def`, `\catcode`, `\csname`, `\url`, ...) is escaped to text.
_TEXT_COMMANDS = _names(
    # accents and special letters
    "c v u H k r d b t ss ae AE o O l L oe OE aa AA i j"
    # font commands, old and new
    " textbf textit textsl textsc texttt textrm textsf textup textmd textnormal emph"
    " bf it sl sc tt rm sf em mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak"
    " mathscr boldsymbol bm"
    # logos and the characters this module writes itself
    " TeX LaTeX BibTeX textless textgreater textbackslash textasciitilde textasciicircum"
)
# Math structures (with the thousands of symbol names latex2mathml knows, below).
_MATH_STRUCTURES = _names(
    "frac dfrac tfrac cfrac sqrt binom dbinom tbinom choose over atop left right middle big"
    " Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr text mbox operatorname"
    " hat widehat tilde widetilde bar overline underline vec dot ddot dddot acute grave"
    " breve check mathring overbrace underbrace overset underset stackrel overrightarrow"
    " overleftarrow xrightarrow xleftarrow sum prod int iint iiint oint coprod lim liminf"
    " limsup sup inf max min arg argmax argmin det gcd log ln exp sin cos tan sec csc cot"
    " sinh cosh tanh arcsin arccos arctan deg dim hom ker Pr mod bmod pmod limits"
    " nolimits displaystyle textstyle scriptstyle scriptscriptstyle quad qquad not"
    " phantom hphantom vphantom cdots ldots dots vdots ddots prime begin end substack"
)
_MATH_ENVIRONMENTS = _names(
    "matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix cases array aligned gathered split"
)


@lru_cache(maxsize=1)
def _math_commands() -> frozenset[str]:
    """Command names harmless in a formula: symbols (`\\alpha`, `\\leq`) and structures."""
    from latex2mathml.symbols_parser import SYMBOLS

    names = {key[1:] for key in SYMBOLS if re.fullmatch(r"\\[A-Za-z]+", key)}
    return frozenset(names) | _MATH_STRUCTURES | _TEXT_COMMANDS


def _allowed_text_command(name: str) -> bool:
    """A command name that may stay a command in running text."""
    return name in _TEXT_COMMANDS or name in _math_commands() - {"begin", "end"}


_MATH_TOKEN = re.compile(r"\\(?:[A-Za-z]+|.)|[%#&]|\^\^", re.S)
_ENVIRONMENT = re.compile(r"\{([A-Za-z]+\*?)\}")
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
            name = command.group(0)[1:] if command else ""
            if command and (not name.isalpha() or _allowed_text_command(name)):
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
            formula = _safe_math(part)
            if formula is not None:
                parts.append(formula)
                continue
        if is_math:  # a formula with a command off the allow-list: shown as its source
            parts.append(_escape_text(part))
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


def _safe_math(formula: str) -> str | None:
    """The formula with stray `% # &` escaped, or None if it holds a command not allowed.

    `^^5c` is TeX's spelling of a backslash, so `^^` is refused like a command.
    """
    if not _balanced(formula):
        return None
    aligned = "\\begin" in formula
    out: list[str] = []
    position = 0
    for token in _MATH_TOKEN.finditer(formula):
        out.append(formula[position : token.start()])
        position = token.end()
        value = token.group(0)
        if value == "^^":
            return None
        if value in "%#" or (value == "&" and not aligned):
            out.append("\\" + value)
            continue
        name = value[1:]
        if name.isalpha():
            if name not in _math_commands():
                return None
            if name in ("begin", "end"):
                environment = _ENVIRONMENT.match(formula, token.end())
                if environment is None or environment.group(1) not in _MATH_ENVIRONMENTS:
                    return None
        out.append(value)
    out.append(formula[position:])
    return "".join(out)


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


# Name suffixes BibTeX must be told about (a lone "V" is more often an initial).
_SUFFIXES = frozenset({"Jr", "Jr.", "Sr", "Sr.", "II", "III", "IV"})


@dataclass(frozen=True)
class Name:
    first: str
    last: str  # with its "von" part (`van der Waals`)
    suffix: str = ""

    def bibtex(self) -> str:
        """`von Last, Jr, First` (or `von Last, First`): the form BibTeX never misreads."""
        if not self.first and not self.suffix:
            return self.last
        return ", ".join(part for part in (self.last, self.suffix, self.first) if part)


def _split_first_last(words: list[str]) -> tuple[str, str]:
    """First names and `von Last`: the von part starts at the first lowercase word."""
    for index in range(1, len(words) - 1):
        if words[index][:1].islower():
            return " ".join(words[:index]), " ".join(words[index:])
    return " ".join(words[:-1]), words[-1] if words else ""


def parse_name(author: str) -> Name | None:
    """The parts of a name that carries a suffix; None for names BibTeX reads right as they are.

    Handles `Neal J. Evans II`, `Neal J. Evans, Jr.` and `Evans II, Neal J.`.
    """
    author = " ".join(author.split())
    parts = [p.strip() for p in author.split(",")]
    if len(parts) == 1:
        words = parts[0].split()
        if len(words) >= 3 and words[-1] in _SUFFIXES:
            first, last = _split_first_last(words[:-1])
            return Name(first, last, words[-1])
    elif len(parts) == 2 and all(parts):
        before, after = parts
        if after in _SUFFIXES and len(before.split()) >= 2:  # `Neal J. Evans, Jr.`
            first, last = _split_first_last(before.split())
            return Name(first, last, after)
        words = before.split()
        if len(words) >= 2 and words[-1] in _SUFFIXES:  # `Evans II, Neal J.`
            return Name(after, " ".join(words[:-1]), words[-1])
    return None


def bibtex_name(author: str) -> str:
    """One author for BibTeX's `author` field, suffixes made explicit, text escaped."""
    name = parse_name(author)
    return bibtex_text(name.bibtex() if name else author)


def last_name(author: str) -> str:
    """The family name: after a comma form's comma is before it; else the last word."""
    name = parse_name(author)
    if name is not None:
        return name.last.split()[-1]
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


def verbatim(value: str) -> str:
    """A DOI or URL as written, with only what would break the field percent-encoded:
    braces and backslashes (BibTeX counts braces) and whitespace."""
    return re.sub(r"[{}\\\s]", lambda m: f"%{ord(m.group(0)):02X}", value.strip())


def bibtex(paper: Paper, authors: list[str], site_url: str) -> str:
    """One BibTeX entry: `@article` when a journal reference is known, else `@misc`."""
    fields: list[tuple[str, str]] = [("title", bibtex_text(paper.title, protect_case=True))]
    if authors:
        fields.append(("author", " and ".join(bibtex_name(a) for a in authors)))
    elif paper.author_count:
        fields.append(("author", "others"))
    stamp = paper.published_at or paper.feed_at
    if stamp is not None:
        fields.append(("year", str(stamp.year)))
        fields.append(("month", stamp.strftime("%b").lower()))
    if paper.journal_ref:
        fields.append(("journal", bibtex_text(paper.journal_ref)))
    if paper.doi:
        fields.append(("doi", verbatim(paper.doi)))
    if paper.arxiv_id:
        fields.append(("eprint", paper.arxiv_id))
        fields.append(("archivePrefix", "arXiv"))
        if paper.primary_category or paper.category_list:
            fields.append(("primaryClass", paper.primary_category or paper.category_list[0]))
        fields.append(("url", verbatim(f"https://arxiv.org/abs/{paper.arxiv_id}")))
    else:
        fields.append(("url", verbatim(f"{site_url.rstrip('/')}/papers/{paper.public_id}")))
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


_URL_UNSAFE = str.maketrans({c: f"%{ord(c):02X}" for c in "()<>[]\\ \t\n\r\"'`"})


def markdown_url(url: str) -> str:
    """A link target that cannot end its link early: the characters Markdown reads as the
    end of a destination (a parenthesis, a bracket, a space...) percent-encoded. Imported
    addresses are only checked for an http(s) start, and `https://x)[a](javascript:...)`
    would otherwise add a link of its own."""
    return url.translate(_URL_UNSAFE)


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
        lines.append(f"**Authors:** {plural(paper.author_count, 'author')}  ")
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
    upvotes, said = plural(paper.upvotes, "upvote"), plural(paper.comment_count, "comment")
    lines.append(f"**Upvotes:** {upvotes} · {said}  ")
    links = [f"[{paper.public_id}]({url})"]
    arxiv = arxiv_links(paper)
    if arxiv:
        links += [f"[arXiv:{paper.arxiv_id}]({arxiv[0]})", f"[PDF]({arxiv[1]})"]
    if paper.doi:
        links.append(
            f"[DOI {markdown_text(paper.doi)}]({markdown_url('https://doi.org/' + paper.doi)})"
        )
    if paper.github_url:
        links.append(f"[Code]({markdown_url(paper.github_url)})")
    if paper.project_url:
        links.append(f"[Project page]({markdown_url(paper.project_url)})")
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


# Spreadsheets run a cell that starts with one of these as a formula (`=HYPERLINK(...)`,
# `@SUM(...)`, `-2+3`); OWASP's advice is to prefix such a cell with a single quote, which
# spreadsheets show as text and which a person can spot. JSON lines stay raw: they are data
# for programs, and a program that pastes them into a spreadsheet must do its own quoting.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell: None as empty, text that a spreadsheet would run as a formula quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(records: Iterable[dict], columns: Sequence[str] = COLUMNS) -> str:
    """RFC 4180 CSV with a header row; lists are joined with "; " (authors) or spaces."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow(
            [
                csv_cell(
                    "; ".join(value)
                    if key == "authors"
                    else " ".join(value)
                    if isinstance(value, list)
                    else value
                )
                for key, value in ((k, record[k]) for k in columns)
            ]
        )
    return buffer.getvalue()


def to_jsonl(records: Iterable[dict]) -> str:
    """One JSON object per line (UTF-8, no ASCII escapes), lists kept as arrays."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
