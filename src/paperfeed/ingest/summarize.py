"""The worker's `summaries` job: one- or two-sentence machine-written summaries of papers.

Off unless `PAPERFEED_SUMMARY_API_URL` and `PAPERFEED_SUMMARY_MODEL` are set. Each run:
1. follows the change sequence from its cursor (incremental, resumable): papers that
   entered the feed are queued, and the summaries of papers whose title or abstract
   changed since they were written are marked stale (papers/summaries.py `follow_feed`);
2. asks the endpoint (ingest/chat_api.py) about at most `PAPERFEED_SUMMARY_BATCH` papers:
   those in the feed without a summary, newest first, then the stale ones;
3. before each request, and each retry of one (a retry may be billed too), reserves it
   and an upper bound of its tokens in today's ledger (papers/summaries.py); an attempt
   that failed keeps its bound spent; a run that would pass a daily cap stops and says so, and the
   next day's runs carry on. Each answer is cleaned and stored in its own transaction,
   with the ledger settled to the tokens the endpoint reported and `touch_enrichment`,
   so a killed run loses at most the request it was making, and never overspends.

An endpoint that keeps failing (429s past the retries, timeouts, 5xx) fails the run; the
next run carries on, and pages show what was stored before. A 400 (this paper's request,
say a context too long) is recorded for the paper and the run goes on; another refusal
(401: a bad key) fails the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.chat_api import ChatClient
from paperfeed.ingest.http_client import RemoteRefused
from paperfeed.papers import summaries
from paperfeed.papers.derived import Progress

log = logging.getLogger(__name__)

PER_PAPER_REFUSALS = frozenset({400, 413, 422})  # this request, not the endpoint or the key


class _Capped(Exception):
    """A daily cap is reached: the attempt about to be made is not made."""


@dataclass
class SummaryStats:
    examined: int = 0  # changed papers looked at
    queued: int = 0  # papers new to the feed, queued
    stale: int = 0  # summaries marked stale (their paper's text changed)
    written: int = 0  # summaries stored
    refused: int = 0  # answers refused by the cleanup, or requests the endpoint refused
    requests: int = 0
    tokens: int = 0  # reported by the endpoint (or the bound, where it reported none)
    left: int = 0  # papers still due after this run
    capped: str | None = None  # the daily cap that stopped the run

    def counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "examined": self.examined,
            "queued": self.queued,
            "stale": self.stale,
            "written": self.written,
            "refused": self.refused,
            "requests": self.requests,
            "tokens": self.tokens,
            "left": self.left,
        }
        if self.capped is not None:
            counts["stopped"] = self.capped
        return counts


def off_reason(settings: Settings) -> str | None:
    """Why the job does not run here, or None if it does."""
    if not settings.summary_api_url:
        return "summaries are off: PAPERFEED_SUMMARY_API_URL is not set"
    if not settings.summary_model:
        return "summaries are off: PAPERFEED_SUMMARY_MODEL is not set"
    return None


def update_summaries(
    db: Database,
    settings: Settings,
    client: ChatClient,
    progress: Progress | None = None,
) -> SummaryStats:
    """One run of the job (see the module's docstring)."""
    stats = SummaryStats()
    followed = summaries.follow_feed(db, batch=settings.keywords_batch)
    stats.examined, stats.queued, stats.stale = followed.examined, followed.queued, followed.stale
    todo = summaries.due_papers(db, settings.summary_batch)
    for done, paper in enumerate(todo, start=1):
        prompt = summaries.user_prompt(paper.title, paper.abstract)
        bound = summaries.token_bound(summaries.SYSTEM_PROMPT, prompt) + summaries.MAX_TOKENS
        days: list[date] = []  # one reservation per attempt, retries included

        def reserve_attempt(bound: int = bound, days: list[date] = days) -> None:
            day = summaries.reserve(db, settings, bound)
            if day is None:
                raise _Capped
            days.append(day)

        try:
            answer = client.complete(
                summaries.SYSTEM_PROMPT,
                prompt,
                summaries.MAX_TOKENS,
                before_each=reserve_attempt,
            )
        except _Capped:
            stats.requests += len(days)
            stats.tokens += bound * len(days)  # attempts that failed: their bound stays spent
            stats.capped = "the daily cap of requests or tokens is reached"
            log.warning("summaries: %s; the job resumes tomorrow (UTC)", stats.capped)
            break
        except RemoteRefused as refused:
            if refused.status not in PER_PAPER_REFUSALS:
                raise
            spent = summaries.Spent(days[-1], bound, 0, 0)
            cleaned = summaries.Cleaned(None, f"the endpoint refused it (HTTP {refused.status})")
        else:
            spent = summaries.Spent(days[-1], bound, answer.prompt_tokens, answer.completion_tokens)
            cleaned = summaries.clean(answer.text, answer.finish_reason)
        stats.requests += len(days)
        stats.tokens += spent.used + bound * (len(days) - 1)
        summaries.store(
            db,
            paper.id,
            summaries.text_hash(paper.title, paper.abstract),
            client.model,
            cleaned,
            spent,
        )
        if cleaned.summary is None:
            stats.refused += 1
            log.info("summaries: paper %s refused: %s", paper.id, cleaned.error)
        else:
            stats.written += 1
        if progress:
            progress(done, len(todo))
    stats.left = summaries.due_count(db)
    return stats


def status(db: Database, settings: Settings) -> dict[str, Any]:
    """For `paperfeed status`: written, refused, due, and today's spending against the caps."""
    requests, tokens = summaries.usage(db)
    return {
        **summaries.counts(db),
        "off": off_reason(settings),
        "model": settings.summary_model,
        "requests": (requests, settings.summary_daily_requests),
        "tokens": (tokens, settings.summary_daily_tokens),
    }
