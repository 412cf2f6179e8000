"""Machine-written summaries: the prompt, cleaning an answer, the daily ledger, what is due.

The `summaries` job (ingest/summarize.py) asks a chat-completions endpoint for one or two
sentences per paper; this module holds everything about it that is not the network:

- `SYSTEM_PROMPT` and `user_prompt`, versioned by `PROMPT_VERSION` (stored with every
  summary; docs/summaries.md quotes the prompt and pages link to it);
- `clean`: the answer as it may be shown, or why it is refused;
- the ledger (`summary_usage`): a request and an upper bound of its tokens are reserved
  before the request in their own transaction (`reserve`), and the bound is replaced by
  the tokens the endpoint reported in the transaction that stores the summary (`store`),
  so no crash, and no number of workers, can spend past a day's caps;
- which papers are due (`due_papers`): those in the feed without a summary, newest first,
  then those whose title or abstract changed since theirs was written; `follow_feed`
  finds both by following the change sequence, and queues them as `stale` rows.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import Paper, PaperSummary, SummaryUsage
from paperfeed.papers.derived import Progress, Write, follow_changes
from paperfeed.papers.store import touch_enrichment

PROMPT_VERSION = "1"
CHANGES_CURSOR = "summaries:changes"
MAX_TOKENS = 120  # of an answer: two sentences are ~60
MAX_ABSTRACT = 6_000  # characters of an abstract sent (arXiv's limit is 1,920)
MAX_SUMMARY = 400  # characters shown
MIN_WORDS = 5
SYSTEM_PROMPT = (
    "You write one- or two-sentence summaries of research papers for a list of new "
    "papers. Given a paper's title and abstract, say in plain English what the paper does "
    "and what it finds, in at most 60 words. Use only what the abstract says: add no "
    "claims, numbers or opinions of your own. Answer with the summary alone: no preamble, "
    "no title, no lists, no Markdown, no LaTeX."
)


def user_prompt(title: str, abstract: str) -> str:
    """The user message: the paper's title and abstract, whitespace collapsed."""
    title = " ".join(title.split())
    abstract = " ".join(abstract.split())[:MAX_ABSTRACT]
    return f"Title: {title}\n\nAbstract: {abstract}"


def token_bound(*texts: str) -> int:
    """An upper bound of the tokens `texts` take, with no tokenizer: one per three
    characters (English runs at ~four per token in BPE vocabularies), plus the chat
    template's few tokens per message."""
    return sum(math.ceil(len(t) / 3) + 8 for t in texts)


def text_hash(title: str, abstract: str) -> str:
    """What a summary was written from: its title and abstract, whitespace collapsed."""
    text = " ".join(title.split()) + "\n" + " ".join(abstract.split())
    return hashlib.sha1(text.encode()).hexdigest()


# --- cleaning an answer -------------------------------------------------------------------

_PREAMBLE = re.compile(
    r"^(?:(?:here is|here's) (?:a|the|my) (?:\w+ )?summary[^:]*:|summary:|tl;?dr:?)\s*",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# A refusal opens the answer ("I'm sorry, ...", "As an AI ..."): matched at the start, as
# words, so a summary about "the AI" or "an aid to planning" is not taken for one.
_REFUSAL = re.compile(
    r"^(?:unfortunately,? |sorry,? )?(?:as an ai\b|as a (?:large )?language model\b"
    r"|i (?:cannot|can't|can not|am unable|am not able|apologi[sz]e)\b|i'm (?:sorry|unable)\b"
    r"|i am sorry\b|sorry\b)"
    r"|\bprovide (?:me with )?the (?:abstract|paper|text)\b",
    re.IGNORECASE,
)
_MARKUP = ("```", "**", "##", "\\begin", "$$", "http://", "https://")


class Cleaned(NamedTuple):
    summary: str | None
    error: str | None  # why it was refused


def clean(text: str, finish_reason: str | None = None) -> Cleaned:
    """The answer as pages may show it (1-2 sentences, at most `MAX_SUMMARY` characters),
    or the reason it is refused: empty, a refusal or a question back, markup, a sentence
    cut off by `max_tokens`, or too short or too long to be a summary."""
    text = " ".join(text.split())
    text = _PREAMBLE.sub("", text).strip().strip("\"'“”").strip()
    if not text:
        return Cleaned(None, "empty answer")
    if _REFUSAL.search(text):
        return Cleaned(None, "a refusal, not a summary")
    if any(m in text for m in _MARKUP) or text.startswith(("- ", "* ", "1.", "#")):
        return Cleaned(None, "markup in the answer")
    sentences = _SENTENCE_END.split(text)
    if finish_reason == "length" or not sentences[-1].endswith((".", "!", "?")):
        sentences = sentences[:-1]  # cut off mid-sentence: keep the complete ones
    sentences = [s for s in sentences if s.endswith((".", "!", "?"))][:2]
    if not sentences:
        return Cleaned(None, "no complete sentence")
    if sentences[-1].endswith("?"):
        return Cleaned(None, "a question, not a summary")
    summary = " ".join(sentences)
    if len(summary) > MAX_SUMMARY:
        summary = sentences[0]
    if len(summary) > MAX_SUMMARY:
        return Cleaned(None, "too long")
    if len(summary.split()) < MIN_WORDS:
        return Cleaned(None, "too short")
    return Cleaned(summary, None)


# --- the daily ledger ---------------------------------------------------------------------


def today() -> date:
    return clock.now().date()  # UTC: the caps are per UTC day


def usage(db: Database, day: date | None = None) -> tuple[int, int]:
    """Requests and tokens spent (or reserved) on `day` (today)."""
    with db.reader() as session:
        row = session.get(SummaryUsage, day or today())
        return (row.requests, row.tokens) if row else (0, 0)


def reserve(db: Database, settings: Settings, tokens: int) -> date | None:
    """Take one request and `tokens` from today's caps, in their own transaction: the day
    it was taken from (what settling it names, even past midnight), or None (taking
    nothing) if either cap would be passed. One conditional UPDATE: two workers reserving
    at once are serialized by the row's lock, each seeing the other's spending."""
    day = today()
    fits = (
        update(SummaryUsage)
        .where(
            SummaryUsage.day == day,
            SummaryUsage.requests + 1 <= settings.summary_daily_requests,
            SummaryUsage.tokens + tokens <= settings.summary_daily_tokens,
        )
        .values(
            requests=SummaryUsage.requests + 1,
            tokens=SummaryUsage.tokens + tokens,
            updated_at=clock.now(),
        )
    )
    with db.transaction() as session:
        if session.get(SummaryUsage, day) is None:
            try:
                with session.begin_nested():
                    session.add(SummaryUsage(day=day, requests=0, tokens=0, updated_at=clock.now()))
            except IntegrityError:  # another worker made today's row first
                pass
        taken = bool(session.execute(fits).rowcount)  # type: ignore[attr-defined]  # an UPDATE's Result has rowcount; Result[Any] does not say so
    return day if taken else None


def _settle(session: Session, day: date, reserved: int, used: int) -> None:
    """Replace a reservation by what was spent (never below zero)."""
    left = SummaryUsage.tokens - reserved + used
    session.execute(
        update(SummaryUsage)
        .where(SummaryUsage.day == day)
        .values(
            tokens=case((left < 0, 0), else_=left),
            updated_at=clock.now(),
        )
    )


# --- storing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spent:
    """What one request cost: its reservation, and the tokens the endpoint reported."""

    day: date
    reserved: int
    prompt_tokens: int | None
    completion_tokens: int | None

    @property
    def used(self) -> int:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return self.reserved  # no usage reported: the bound stays spent
        return self.prompt_tokens + self.completion_tokens


def store(
    db: Database,
    paper_id: int,
    text_hash_: str,
    model: str,
    cleaned: Cleaned,
    spent: Spent,
) -> bool:
    """One answer, in its own transaction with its ledger entry; True if what pages show
    changed."""
    with db.transaction() as session:
        _settle(session, spent.day, spent.reserved, spent.used)
        if session.get(Paper, paper_id) is None:  # deleted meanwhile
            return False
        row = session.get(PaperSummary, paper_id)
        before = row.summary if row else None
        if row is None:
            row = PaperSummary(paper_id=paper_id)
            session.add(row)
        # A refused answer about changed text drops the summary of the old text: pages
        # then quote a key sentence instead of summarising what the paper no longer says.
        row.summary = cleaned.summary
        row.model = model[:200]
        row.error = cleaned.error
        row.prompt_version = PROMPT_VERSION
        row.prompt_tokens = spent.prompt_tokens or 0
        row.completion_tokens = spent.completion_tokens or 0
        row.text_hash = text_hash_
        row.stale = False
        row.created_at = clock.now()
        changed = row.summary != before
        if changed:
            touch_enrichment(session)  # pages show it: revalidate, do not re-index
        return changed


# --- what is due --------------------------------------------------------------------------


@dataclass
class Followed:
    examined: int = 0  # changed papers looked at
    queued: int = 0  # papers new to the feed, now due
    stale: int = 0  # summaries whose paper's text changed, now due again


def follow_feed(
    db: Database, batch: int = 500, progress: Progress | None = None, limit: int | None = None
) -> Followed:
    """Queue what is due, following the change sequence (every paper that enters the feed
    or changes moves in it): a paper in the feed without a row gets a pending one (no
    summary yet, `stale`), and a summary whose paper's title or abstract changed since it
    was written is marked `stale`. So choosing a run's papers reads only what is due, not
    the whole feed."""
    followed = Followed()

    def step(papers: Sequence[Any]) -> Write:
        with db.reader() as session:
            known = dict(
                session.execute(
                    select(PaperSummary.paper_id, PaperSummary.text_hash).where(
                        PaperSummary.paper_id.in_([p.id for p in papers]),
                    )
                ).all()
            )
        queue = [
            p.id
            for p in papers
            if p.id not in known and p.feed_at is not None and p.hidden_at is None
        ]
        stale = [
            p.id
            for p in papers
            if p.id in known and known[p.id] not in ("", text_hash(p.title, p.abstract))
        ]
        followed.queued += len(queue)
        followed.stale += len(stale)

        def write(session: Session) -> None:
            now = clock.now()
            session.add_all(
                PaperSummary(
                    paper_id=pid,
                    summary=None,
                    error=None,
                    model="",
                    prompt_version="",
                    prompt_tokens=0,
                    completion_tokens=0,
                    text_hash="",  # pending: written from no text yet
                    stale=True,
                    created_at=now,
                )
                for pid in queue
            )
            if stale:
                session.execute(
                    update(PaperSummary)
                    .where(PaperSummary.paper_id.in_(stale), PaperSummary.stale.is_(False))
                    .values(stale=True)
                )

        return write

    columns = (Paper.id, Paper.title, Paper.abstract, Paper.feed_at, Paper.hidden_at)
    followed.examined = follow_changes(db, CHANGES_CURSOR, columns, batch, step, progress, limit)
    return followed


def _due() -> Any:
    return (
        Paper.feed_at.is_not(None),
        Paper.hidden_at.is_(None),
        PaperSummary.stale.is_(True),
    )


def due_papers(db: Database, limit: int) -> list[Any]:
    """Up to `limit` papers to summarise: the feed's papers without a summary, newest
    first, then those whose summary is stale, newest first. Rows of (id, title, abstract);
    reads the due rows (the `stale` index), never the whole feed."""
    with db.reader() as session:
        return list(
            session.execute(
                select(Paper.id, Paper.title, Paper.abstract)
                .join(PaperSummary, PaperSummary.paper_id == Paper.id)
                .where(*_due())
                .order_by(
                    PaperSummary.summary.is_not(None),  # false (none yet) first
                    Paper.feed_at.desc(),
                    Paper.id.desc(),
                )
                .limit(limit)
            )
        )


def due_count(db: Database) -> int:
    """How many papers are due, counted in the database."""
    with db.reader() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Paper)
                .join(PaperSummary, PaperSummary.paper_id == Paper.id)
                .where(*_due())
            )
            or 0
        )


def counts(db: Database) -> dict[str, int]:
    """For `paperfeed status`: summaries written and refused, and what is due."""
    with db.reader() as session:
        written = session.scalar(
            select(func.count()).select_from(PaperSummary).where(PaperSummary.summary.is_not(None))
        )
        refused = session.scalar(
            select(func.count())
            .select_from(PaperSummary)
            .where(PaperSummary.summary.is_(None), PaperSummary.error.is_not(None))
        )
    return {"written": written or 0, "refused": refused or 0, "due": due_count(db)}


# --- what pages and the API show ----------------------------------------------------------


@dataclass(frozen=True)
class ShownSummary:
    text: str
    model: str
    prompt_version: str


def load_summaries(session: Session, paper_ids: Sequence[int]) -> dict[int, ShownSummary]:
    """The papers that have a machine-written summary -> it: one query."""
    if not paper_ids:
        return {}
    rows = session.execute(
        select(
            PaperSummary.paper_id,
            PaperSummary.summary,
            PaperSummary.model,
            PaperSummary.prompt_version,
        ).where(PaperSummary.paper_id.in_(list(paper_ids)), PaperSummary.summary.is_not(None))
    )
    return {pid: ShownSummary(str(text), model, version) for pid, text, model, version in rows}
