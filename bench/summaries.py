"""Summaries: what the `summaries` job costs, measured here and projected to 2.6M papers.

    .venv/bin/python -m bench.summaries [--papers N]

- tokens per paper, from the sample abstracts (data/sample_papers.jsonl, the demo corpus,
  and data/arxiv_snapshot_sample.jsonl, real arXiv records): no tokenizer of the models
  is installed here (tiktoken's vocabularies are downloaded at first use), so tokens are
  counted as words * 1.3, the usual ratio for English in BPE vocabularies; the job's own
  reservation bound (characters / 3, papers/summaries.py) is shown beside it;
- the job's own time per paper (the prompt, the ledger's two transactions, cleanup and the
  stored row) against the loopback chat-completions stand-in answering at once, on SQLite:
  what the site adds to the endpoint's latency;
- storage: bytes per `paper_summaries` row on SQLite (its pages and index, from `dbstat`);
- the key sentence's time per paper (computed on each paper page view).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the stand-in lives with the tests

from paperfeed import clock  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.db import Database  # noqa: E402
from paperfeed.ingest.chat_api import ChatClient  # noqa: E402
from paperfeed.ingest.summarize import update_summaries  # noqa: E402
from paperfeed.papers import summaries  # noqa: E402
from paperfeed.papers.records import PaperRecord  # noqa: E402
from paperfeed.papers.store import upsert_papers  # noqa: E402
from paperfeed.progress import format_duration  # noqa: E402
from paperfeed.search.key_sentence import key_sentence  # noqa: E402
from tests.chat_server import FakeChatApi  # noqa: E402

DATA = ROOT / "src" / "paperfeed" / "data"
ARCHIVE = 2_600_000
ANSWER_WORDS = 45  # two sentences of a summary (the prompt asks for at most 60 words)
NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


def tokens(text: str) -> float:
    return len(text.split()) * 1.3


def load(name: str) -> list[dict]:
    lines = (DATA / name).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def token_table() -> float:
    print("tokens per paper (words * 1.3; the chat template adds ~4 per message)")
    print(f"{'corpus':<30} {'papers':>6} {'prompt mean':>11} {'p95':>5} {'bound mean':>10}")
    means = []
    for name in ("sample_papers.jsonl", "arxiv_snapshot_sample.jsonl"):
        papers = load(name)
        prompts = [
            tokens(summaries.SYSTEM_PROMPT)
            + tokens(summaries.user_prompt(p.get("title") or "", p.get("abstract") or ""))
            + 8
            for p in papers
        ]
        bounds = [
            summaries.token_bound(
                summaries.SYSTEM_PROMPT,
                summaries.user_prompt(p.get("title") or "", p.get("abstract") or ""),
            )
            + summaries.MAX_TOKENS
            for p in papers
        ]
        mean = statistics.mean(prompts)
        means.append(mean)
        p95 = sorted(prompts)[int(0.95 * len(prompts))]
        bound = statistics.mean(bounds)
        print(f"{name:<30} {len(papers):>6} {mean:>11.0f} {p95:>5.0f} {bound:>10.0f}")
    return means[-1]  # real arXiv records stand for the archive


def job_time(n: int) -> tuple[float, float]:
    """Seconds of the job's own work per paper, and bytes per stored row (SQLite)."""
    papers = load("sample_papers.jsonl")
    with tempfile.TemporaryDirectory() as tmp, clock.frozen(NOW):
        path = Path(tmp) / "bench.sqlite3"
        db = Database(f"sqlite:///{path}")
        db.upgrade()
        records = [
            PaperRecord(
                title=f"{papers[i % len(papers)]['title']} ({i})",
                abstract=papers[i % len(papers)].get("abstract") or "",
                feed_at=NOW - timedelta(minutes=i),
            )
            for i in range(n)
        ]
        with db.transaction() as session:
            upsert_papers(session, records)
        chat = FakeChatApi().start()
        chat.answer = lambda body: " ".join(["Word"] * (ANSWER_WORDS - 1)) + " end."
        settings = Settings(
            database_url=db.url,
            summary_api_url=chat.url,
            summary_model="bench-model",
            summary_request_interval=0.0,
            summary_batch=n,
            summary_daily_requests=10 * n + 100,
            summary_daily_tokens=10_000 * n,
        )
        try:
            with ChatClient.from_settings(settings) as client:
                # The stand-in's own answer time (Python's http.server writes headers and
                # body apart, so each answer waits for a delayed ACK): measured, subtracted.
                client.complete("s", "Title: t\n\nAbstract: a", 10)
                started = time.perf_counter()
                for _ in range(50):
                    client.complete("s", "Title: t\n\nAbstract: a", 10)
                bare = (time.perf_counter() - started) / 50
                started = time.perf_counter()
                stats = update_summaries(db, settings, client)
                seconds = time.perf_counter() - started - n * bare
        finally:
            chat.stop()
        assert stats.written == n, stats
        db.engine.dispose()
        with sqlite3.connect(path) as connection:  # the table's pages, indexes included
            used = connection.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name IN "
                "('paper_summaries', 'ix_paper_summaries_stale', "
                "'sqlite_autoindex_paper_summaries_1')"
            ).fetchone()[0]
    return seconds / n, used / n


def key_sentence_time() -> float:
    papers = load("sample_papers.jsonl") + load("arxiv_snapshot_sample.jsonl")
    key_sentence(papers[0].get("abstract") or "")  # the stopword list, once
    started = time.perf_counter()
    for p in papers:
        key_sentence(p.get("abstract") or "")
    return (time.perf_counter() - started) / len(papers)


def due_at_scale(size: int) -> list[tuple[str, float, float]]:
    """Seconds to choose a run's papers (`due_papers`) and to count what is due
    (`due_count`) on SQLite with `size` feed papers: none summarised, half (the newest),
    all. Papers are inserted with one SQL statement (only the columns the queries read
    are realistic), so 2.6M take a minute, not an import."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.sqlite3"
        db = Database(f"sqlite:///{path}")
        db.upgrade()
        with sqlite3.connect(path) as connection:
            connection.execute(
                """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                INSERT INTO papers (id, public_id, title_key, title, abstract, author_count,
                    categories, latest_version, upvote_baseline, upvotes, comment_count,
                    source, change_seq, created_at, modified_at, feed_at)
                SELECT i, 'pf-' || i, 'k' || i, 'Paper ' || i, 'An abstract.', 1, '', 1, 0,
                    0, 0, 'import', i, '2026-01-01 00:00:00', '2026-01-01 00:00:00',
                    datetime('2026-11-20', '-' || (i / 800) || ' days',
                        '+' || (i % 800) || ' seconds')
                FROM n
                """,
                (size,),
            )
        for state in ("none summarised", "newest half summarised", "all summarised"):
            with sqlite3.connect(path) as connection:
                if state == "none summarised":  # as the job's walk of the feed queues them
                    connection.execute(
                        """
                        INSERT INTO paper_summaries (paper_id, summary, model,
                            prompt_version, prompt_tokens, completion_tokens, text_hash,
                            stale, created_at)
                        SELECT id, NULL, '', '', 0, 0, '', 1, '2026-11-20 00:00:00'
                        FROM papers
                        """
                    )
                else:
                    done = size // 2 if state.startswith("newest half") else size
                    connection.execute(
                        """
                        UPDATE paper_summaries SET summary = 'A summary.', stale = 0,
                            model = 'm', prompt_version = '1', text_hash = 'h'
                        WHERE paper_id IN (SELECT id FROM papers ORDER BY feed_at DESC LIMIT ?)
                        """,
                        (done,),
                    )
            started = time.perf_counter()
            summaries.due_papers(db, 100)
            chosen = time.perf_counter() - started
            started = time.perf_counter()
            summaries.due_count(db)
            counted = time.perf_counter() - started
            rows.append((state, chosen, counted))
        db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=500)
    parser.add_argument("--smoke", action="store_true", help="a quick run (50 papers)")
    parser.add_argument(
        "--scale", type=int, default=0, help="also time the due queries at this many papers"
    )
    args = parser.parse_args()
    if args.scale:
        print(f"choosing and counting due papers, SQLite, {args.scale:,} feed papers")
        for state, chosen, counted in due_at_scale(args.scale):
            print(
                f"  {state:<24} due_papers(100) {chosen * 1000:8.1f} ms"
                f"   due_count {counted * 1000:8.1f} ms"
            )
        print()
    n = 50 if args.smoke else args.papers
    prompt = token_table()
    answer = tokens(" ".join(["w"] * ANSWER_WORDS))
    per_paper, row_bytes = job_time(n)
    ks = key_sentence_time()
    total = prompt + answer
    print()
    print(f"the job's own time per paper ({n} papers, SQLite): {per_paper * 1000:.1f} ms")
    print(f"storage per summary row (SQLite, {ANSWER_WORDS}-word summaries): {row_bytes:.0f} B")
    print(f"key sentence per paper page: {ks * 1e6:.0f} us")
    print()
    print(f"at {ARCHIVE:,} papers (every one summarised once, arXiv-sized abstracts):")
    print(f"  requests      {ARCHIVE:,}")
    print(
        f"  tokens        {ARCHIVE * total / 1e6:,.0f}M "
        f"({ARCHIVE * prompt / 1e6:,.0f}M prompt + {ARCHIVE * answer / 1e6:,.0f}M answer; "
        f"{total:.0f} per paper)"
    )
    print(f"  storage       {ARCHIVE * row_bytes / 1e9:.2f} GB")
    print(f"  site time     {format_duration(ARCHIVE * per_paper)} (one worker, endpoint excluded)")
    for latency in (1.0, 2.0):
        print(
            f"  wall time     {format_duration(ARCHIVE * (per_paper + latency))} "
            f"at {latency:.0f} s per answer, one request at a time"
        )
    days = math.ceil(ARCHIVE / 1000)
    print(f"  at the default caps (1,000 requests a day): {days:,} days")
    os.environ.pop("PAPERFEED_CLOCK", None)


if __name__ == "__main__":
    main()
