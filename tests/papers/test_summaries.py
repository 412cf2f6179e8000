"""The `summaries` job against the chat-completions stand-in, on both backends: the feed's
papers newest first, caps held by the ledger across runs, a killed run resumed, changed
abstracts written again, answers cleaned, off without an endpoint."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import or_, select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.chat_api import ChatClient
from paperfeed.ingest.http_client import RemoteRefused, RemoteUnavailable
from paperfeed.ingest.summarize import update_summaries
from paperfeed.jobs.status import collect, render
from paperfeed.jobs.worker import Worker, jobs_from_settings
from paperfeed.models import JobRun, Paper, PaperSummary
from paperfeed.papers import summaries
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import (
    ENRICHMENT_CHANGE,
    PAPER_CHANGE,
    current_change_seq,
    upsert_papers,
)
from tests.chat_server import FakeChatApi
from tests.conftest import FIXED_NOW

pytest_plugins = ["tests.chat_server"]


@pytest.fixture
def chat_settings(settings: Settings, chat_api: FakeChatApi) -> Settings:
    return settings.model_copy(
        update={
            "summary_api_url": chat_api.url,
            "summary_model": "test-model-1",
            "summary_request_interval": 0.0,
            "summary_timeout": 0.5,
        }
    )


@pytest.fixture
def client(chat_settings: Settings) -> Iterator[ChatClient]:
    with ChatClient.from_settings(chat_settings, backoff=0.01, max_retries=1) as made:
        yield made


def add_papers(db: Database, n: int = 4, in_feed: bool = True) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title=f"Paper {i}",
                    abstract=f"We study problem {i}. We find that it is solvable.",
                    arxiv_id=f"2611.{i:05d}",
                    feed_at=FIXED_NOW - timedelta(days=n - i) if in_feed else None,
                )
                for i in range(1, n + 1)
            ],
        )


def shown(db: Database) -> dict[str, str | None]:
    """The papers the endpoint answered for: their summary, or None if it was refused."""
    with db.reader() as session:
        return dict(
            session.execute(
                select(Paper.arxiv_id, PaperSummary.summary)
                .join(PaperSummary, PaperSummary.paper_id == Paper.id)
                .where(or_(PaperSummary.summary.is_not(None), PaperSummary.error.is_not(None)))
            ).all()
        )


def asked(chat_api: FakeChatApi) -> list[str]:
    return [b["messages"][1]["content"].split("\n")[0] for b in chat_api.bodies]


def counter(db: Database, name: str) -> int:
    with db.reader() as session:
        return current_change_seq(session, name)[0]


def test_the_feed_is_summarised_newest_first_without_reindexing(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db)
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title="Not in the feed", abstract="Old news.")])
    paper_seq, enrichment = counter(db, PAPER_CHANGE), counter(db, ENRICHMENT_CHANGE)
    stats = update_summaries(db, chat_settings, client)
    assert (stats.written, stats.refused, stats.requests, stats.left) == (4, 0, 4, 0)
    assert asked(chat_api) == [
        "Title: Paper 4",
        "Title: Paper 3",
        "Title: Paper 2",
        "Title: Paper 1",
    ]
    assert shown(db)["2611.00004"] == (
        "This paper presents Paper 4. It shows that the method works on standard tests."
    )
    assert chat_api.bodies[0]["messages"][0]["content"] == summaries.SYSTEM_PROMPT
    assert counter(db, PAPER_CHANGE) == paper_seq  # nothing re-indexed
    assert counter(db, ENRICHMENT_CHANGE) == enrichment + 4  # pages revalidate
    with db.reader() as session:
        row = session.scalars(select(PaperSummary)).first()
        assert row is not None
        assert (row.model, row.prompt_version, row.stale) == ("test-model-1", "1", False)
        assert row.prompt_tokens > 0 and row.completion_tokens == 19  # 14 words * 1.3
    # The ledger holds what the endpoint reported, not the reservations.
    requests, tokens = summaries.usage(db)
    assert requests == 4
    assert tokens == stats.tokens == sum(r.prompt_tokens + r.completion_tokens for r in _rows(db))
    again = update_summaries(db, chat_settings, client)  # nothing left: nothing asked
    assert (again.requests, len(chat_api.bodies)) == (0, 4)


def _rows(db: Database) -> list[PaperSummary]:
    with db.reader() as session:
        return list(session.scalars(select(PaperSummary)))


def test_the_daily_request_cap_holds_across_runs_and_resets_the_next_day(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 5)
    capped = chat_settings.model_copy(update={"summary_daily_requests": 2})
    first = update_summaries(db, capped, client)
    assert (first.written, first.left) == (2, 3)
    assert first.capped == "the daily cap of requests or tokens is reached"
    second = update_summaries(db, capped, client)  # the same day: the ledger says no
    assert (second.requests, second.written) == (0, 0)
    assert len(chat_api.bodies) == 2
    with clock.frozen(FIXED_NOW + timedelta(days=1)):
        third = update_summaries(db, capped, client)
    assert (third.written, third.left) == (2, 1)
    assert asked(chat_api)[:2] == ["Title: Paper 5", "Title: Paper 4"]


def test_the_token_cap_counts_a_reservation_before_each_request(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 3)
    prompt = summaries.user_prompt("Paper 3", "We study problem 3. We find that it is solvable.")
    bound = summaries.token_bound(summaries.SYSTEM_PROMPT, prompt) + summaries.MAX_TOKENS
    # Room for one reservation: after it is settled to what was used, a second fits.
    capped = chat_settings.model_copy(update={"summary_daily_tokens": bound + 10})
    stats = update_summaries(db, capped, client)
    assert stats.written == 1 or stats.written == 2
    requests, tokens = summaries.usage(db)
    assert tokens <= bound + 10
    assert requests == stats.requests == len(chat_api.bodies)
    assert stats.capped is not None


def test_a_crash_after_reserving_leaves_the_reservation_spent(
    db: Database, chat_settings: Settings
) -> None:
    """A worker killed mid-request never settles: the bound stays counted, so the cap holds."""
    capped = chat_settings.model_copy(update={"summary_daily_requests": 1})
    assert summaries.reserve(db, capped, 500)
    assert summaries.usage(db) == (1, 500)
    assert not summaries.reserve(db, capped, 500)
    assert summaries.usage(db) == (1, 500)


def test_workers_racing_for_the_last_of_the_cap_never_pass_it(
    db: Database, chat_settings: Settings
) -> None:
    """Six workers with their own connections, reserving at once from a fresh day (no
    ledger row yet), take exactly the cap between them."""
    capped = chat_settings.model_copy(
        update={"summary_daily_requests": 10, "summary_daily_tokens": 1_000_000}
    )
    databases = [Database(db.url) for _ in range(6)]
    barrier = threading.Barrier(len(databases))
    taken: list[int] = []

    def contend(index: int) -> None:
        barrier.wait()
        got = 0
        while summaries.reserve(databases[index], capped, 100):
            got += 1
        taken.append(got)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(databases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for each in databases:
        each.dispose()
    assert len(taken) == 6 and sum(taken) == 10
    assert summaries.usage(db) == (10, 1000)


def test_a_killed_run_resumes_where_it_stopped(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 4)
    calls = 0
    answer = chat_api.answer

    def dies_on_the_third(body: dict[str, Any]) -> str:
        nonlocal calls
        calls += 1
        if calls == 3:
            chat_api.faults.extend([_five_hundred()] * 5)
        return answer(body)

    chat_api.answer = dies_on_the_third
    with pytest.raises(RemoteUnavailable):
        update_summaries(db, chat_settings, client)
    assert set(shown(db)) == {"2611.00004", "2611.00003", "2611.00002"}
    chat_api.faults.clear()
    stats = update_summaries(db, chat_settings, client)
    assert (stats.written, stats.left) == (1, 0)
    assert asked(chat_api)[-1] == "Title: Paper 1"


def _five_hundred() -> Any:
    from tests.servers import Response

    return Response(500, b'{"error": {"message": "overloaded"}}')


def test_a_429_is_waited_out_and_the_run_goes_on(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 2)
    chat_api.rate_limited(1, retry_after=0)
    stats = update_summaries(db, chat_settings, client)
    assert stats.written == 2
    assert len(chat_api.requests) == 3


def test_a_timeout_past_the_retries_fails_the_run_and_keeps_what_was_stored(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 2)
    update_summaries(db, chat_settings.model_copy(update={"summary_batch": 1}), client)
    chat_api.slow(2, delay=2.0)
    with pytest.raises(RemoteUnavailable):
        update_summaries(db, chat_settings, client)
    assert set(shown(db)) == {"2611.00002"}
    # Both failed attempts' reservations stay spent: a timeout may have been billed.
    assert summaries.usage(db)[0] == 3


def test_every_attempt_is_reserved_and_a_retry_past_the_cap_is_not_made(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 1)
    chat_api.faults.append(_five_hundred())
    stats = update_summaries(db, chat_settings, client)
    assert (stats.written, stats.requests) == (1, 2)
    assert summaries.usage(db)[0] == 2  # the failed attempt counts: it may have been billed
    add_papers(db, 2)
    chat_api.faults.append(_five_hundred())
    capped = chat_settings.model_copy(update={"summary_daily_requests": 3})
    stats = update_summaries(db, capped, client)
    assert stats.capped is not None and stats.written == 0
    assert summaries.usage(db)[0] == 3  # the retry that would be the fourth was not made
    assert len(chat_api.requests) == 3


def test_a_refused_answer_about_changed_text_drops_the_old_summary(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 1)
    update_summaries(db, chat_settings, client)
    assert shown(db)["2611.00001"]
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Paper 1",
                    abstract="We now study a different problem entirely.",
                    arxiv_id="2611.00001",
                    feed_at=FIXED_NOW - timedelta(days=1),
                )
            ],
        )
    chat_api.answer = lambda body: "I'm sorry, but I cannot summarise this paper."
    stats = update_summaries(db, chat_settings, client)
    assert (stats.refused, stats.requests) == (1, 1)
    assert shown(db) == {"2611.00001": None}  # not a summary of what it no longer says
    assert update_summaries(db, chat_settings, client).requests == 0


def test_a_changed_abstract_is_summarised_again_and_the_old_one_shows_meanwhile(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 2)
    update_summaries(db, chat_settings, client)
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Paper 1, revised",
                    abstract="We study problem 1 again.",
                    arxiv_id="2611.00001",
                    feed_at=FIXED_NOW - timedelta(days=1),
                )
            ],
        )
    followed = summaries.follow_feed(db)
    assert (followed.examined, followed.queued, followed.stale) == (1, 0, 1)
    assert shown(db)["2611.00001"] == (
        "This paper presents Paper 1. It shows that the method works on standard tests."
    )
    stats = update_summaries(db, chat_settings, client)
    assert (stats.written, stats.requests) == (1, 1)
    assert shown(db)["2611.00001"].startswith("This paper presents Paper 1, revised.")  # type: ignore[union-attr]


def test_a_paper_that_enters_the_feed_later_is_queued_then(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 2, in_feed=False)
    first = update_summaries(db, chat_settings, client)
    assert (first.examined, first.queued, first.requests) == (2, 0, 0)
    with db.transaction() as session:  # a submission puts it on today's feed
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Paper 1",
                    abstract="We study problem 1. We find that it is solvable.",
                    arxiv_id="2611.00001",
                    feed_at=FIXED_NOW,
                )
            ],
        )
    second = update_summaries(db, chat_settings, client)
    assert (second.examined, second.queued, second.written, second.left) == (1, 1, 1, 0)
    assert asked(chat_api) == ["Title: Paper 1"]


def test_a_junk_answer_is_refused_recorded_and_not_asked_again(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 1)
    chat_api.answer = lambda body: "I'm sorry, but I cannot summarise this paper."
    stats = update_summaries(db, chat_settings, client)
    assert (stats.written, stats.refused) == (0, 1)
    assert shown(db) == {"2611.00001": None}
    with db.reader() as session:
        assert session.scalar(select(PaperSummary.error)) == "a refusal, not a summary"
    assert update_summaries(db, chat_settings, client).requests == 0


def test_a_refused_key_fails_the_run(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi, client: ChatClient
) -> None:
    add_papers(db, 1)
    chat_api.key = "sk-needed"
    with pytest.raises(RemoteRefused):
        update_summaries(db, chat_settings, client)
    assert shown(db) == {}


def test_the_worker_runs_the_job_under_a_lease_and_status_reports_it(
    db: Database, chat_settings: Settings, chat_api: FakeChatApi
) -> None:
    add_papers(db, 2)
    worker = Worker(db, chat_settings, jobs_from_settings(chat_settings, ["summaries"]))
    (run,) = worker.run_once()
    assert run.status == "ok", run.error
    assert run.counts is not None and run.counts["written"] == 2
    text = render(collect(db, chat_settings))
    assert "summaries: 2 written, 0 refused, 0 due (by test-model-1); today 2 of 1,000" in text


def test_without_an_endpoint_the_job_is_skipped_saying_why(
    db: Database, settings: Settings
) -> None:
    add_papers(db, 1)
    worker = Worker(db, settings, jobs_from_settings(settings, ["summaries"]))
    (run,) = worker.run_once()
    assert (run.status, run.error) == (
        "skipped",
        "summaries are off: PAPERFEED_SUMMARY_API_URL is not set",
    )
    with db.reader() as session:
        assert session.scalar(select(JobRun.status).where(JobRun.job == "summaries")) == "skipped"
    assert shown(db) == {}
    assert "summaries are off" in render(collect(db, settings))


@pytest.mark.parametrize(
    ("answer", "finish", "expected"),
    [
        ("  Summary: It works. Really well. And more.  ", "stop", "It works. Really well."),
        (
            "Here is a summary: The method learns fast. It beats baselines.",
            "stop",
            "The method learns fast. It beats baselines.",
        ),
        (
            "The method learns fast on images. It beats the",
            "length",
            "The method learns fast on images.",
        ),
        ('"A short model of quarks is given."', "stop", "A short model of quarks is given."),
    ],
)
def test_clean_keeps_one_or_two_complete_sentences(answer: str, finish: str, expected: str) -> None:
    cleaned = summaries.clean(answer, finish)
    if len(expected.split()) < summaries.MIN_WORDS:
        assert cleaned == (None, "too short")
    else:
        assert cleaned == (expected, None)


def test_clean_keeps_summaries_that_only_mention_what_refusals_say() -> None:
    for answer in (
        "The paper shows that the AI cannot reliably detect forged images, and fixes it.",
        "It uses retrieval as an aid to planning for robots in long household tasks.",
        "The authors argue that an API cannot be fooled by the attack they describe.",
    ):
        assert summaries.clean(answer, "stop") == (answer, None)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        ("As an AI language model, I cannot read papers.", "a refusal, not a summary"),
        ("Unfortunately, I can't access the paper.", "a refusal, not a summary"),
        ("Please provide the abstract you want summarised.", "a refusal, not a summary"),
        ("**Summary**: the paper is good.", "markup in the answer"),
        ("- It does this.\n- It does that.", "markup in the answer"),
        ("Could you provide more details about this?", "a question, not a summary"),
        ("The method learns", None),
        ("Yes.", "too short"),
        ("A " + "very " * 100 + "long sentence.", "too long"),
    ],
)
def test_clean_refuses_junk(answer: str, reason: str | None) -> None:
    cleaned = summaries.clean(answer, "length" if reason is None else "stop")
    assert cleaned.summary is None
    assert cleaned.error == (reason or "no complete sentence")
