"""Sending against a real SMTP server (aiosmtpd on loopback), on both databases."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed import clock
from paperfeed.community.accounts import create_user, find_user
from paperfeed.db import Database
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.compose import digest_message_id
from paperfeed.digest.sending import RunAborted, send_digests, send_due
from paperfeed.models import DigestDelivery, Follow, Organization, Paper, Subscription
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW
from tests.digest.conftest import mail_settings
from tests.servers import FaultySmtpServer, SmtpServer
from tests.web.conftest import BROWSER_HEADERS
from tests.web.test_follows import PASSWORD, logged_in

# FIXED_NOW is Friday 2026-11-20, 15:00 in New York: the daily digest covers Nov 19.
DAY_START = datetime(2026, 11, 19, 5, 0, tzinfo=UTC)
DAY_END = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)


def add(db: Database, email: str, frequency: str = "daily", confirmed: bool = True, **kw) -> int:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        row = subs.subscribe(session, email, frequency, confirmed=confirmed, **kw).subscription
        return row.id


def never_sleep(seconds: float) -> None:
    pass


def test_confirmed_subscribers_get_one_multipart_digest_with_unsubscribe_headers(
    demo_db: Database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(smtp_server, tmp_path, demo_db)
    first = add(demo_db, "one@example.org")
    add(demo_db, "pending@example.org", confirmed=False)
    counts = send_due(settings, demo_db)
    assert counts["sent"] == 1 and counts["due"] == 1
    (mail,) = smtp_server.messages
    assert mail.rcpt_tos == ["one@example.org"]
    assert mail.header("Message-ID") == digest_message_id(settings, first, "daily:2026-11-20")
    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    unsubscribe = mail.header("List-Unsubscribe")
    assert unsubscribe.startswith("<https://papers.example.org/digest/unsubscribe?token=")
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.html is not None and "<h3" in mail.html
    # Ten trending papers of Nov 19, each with a link back to the site.
    with demo_db.reader() as session:
        day = list(
            session.execute(
                select(Paper.public_id, Paper.title).where(
                    Paper.feed_at > DAY_START, Paper.feed_at <= DAY_END
                )
            )
        )
    linked = [pid for pid, _ in day if f"https://papers.example.org/papers/{pid}" in mail.text]
    assert len(linked) == 10
    assert all(title.split()[0] in mail.text for pid, title in day if pid in linked)
    assert "10 new papers" in mail.subject
    # A second run sends nothing: the ledger has it.
    assert send_due(settings, demo_db)["sent"] == 0
    assert len(smtp_server.messages) == 1


def test_the_next_digest_has_only_papers_new_since_the_last(
    demo_db: Database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(smtp_server, tmp_path, demo_db)
    add(demo_db, "one@example.org")
    with clock.frozen(FIXED_NOW - timedelta(days=1)):
        send_due(settings, demo_db)
    send_due(settings, demo_db)
    thursday, friday = smtp_server.messages
    ids = [
        {line.rsplit("/", 1)[1] for line in mail.text.split() if "/papers/pf-" in line}
        for mail in (thursday, friday)
    ]
    assert len(ids[0]) == 10 and len(ids[1]) == 10 and not ids[0] & ids[1]
    with demo_db.reader() as session:
        rows = session.execute(select(DigestDelivery).order_by(DigestDelivery.id)).scalars().all()
        assert rows[1].window_start == rows[0].window_end


def test_nothing_new_means_no_email(
    demo_db: Database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(smtp_server, tmp_path, demo_db)
    subscription = add(demo_db, "topics@example.org", include_trending=False)
    with demo_db.transaction() as session:
        row = session.get(Subscription, subscription)
        subs.add_topic(session, row, "", author="Nobody Wrote This")
    assert send_due(settings, demo_db)["empty"] == 1
    assert smtp_server.messages == []
    with demo_db.reader() as session:
        assert session.execute(select(DigestDelivery.status)).scalar_one() == "empty"


def test_followed_organizations_and_authors_make_sections(
    demo_db: Database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    from paperfeed.community.accounts import create_user

    settings = mail_settings(smtp_server, tmp_path, demo_db)
    with demo_db.reader() as session:
        paper, org = session.execute(
            select(Paper, Organization)
            .join(Organization, Organization.id == Paper.organization_id)
            .where(Paper.feed_at > DAY_START, Paper.feed_at <= DAY_END)
            .limit(1)
        ).one()
    with demo_db.transaction() as session:
        user = create_user(session, "follower", "f@example.org", "long enough password")
        session.add(
            Follow(user_id=user.id, kind="organization", target=org.name, created_at=clock.now())
        )
        user_id = user.id
    add(demo_db, "f@example.org", include_trending=False, user_id=user_id)
    send_due(settings, demo_db)
    (mail,) = smtp_server.messages
    assert f"## From {org.name}" in mail.text
    assert f"/papers/{paper.public_id}" in mail.text
    assert "## Trending" not in mail.text


def test_a_category_followed_on_the_site_is_a_section_of_the_digest_sent(
    db: Database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(smtp_server, tmp_path, db)
    with db.transaction() as session:
        create_user(session, "reader", "r@example.org", PASSWORD, verified=True)
    app = create_app(settings, db)
    # The site's own address: its cookies are Secure there.
    with TestClient(
        app, base_url=settings.site_url, follow_redirects=False, headers=BROWSER_HEADERS
    ) as client:
        token = logged_in(client)
        done = client.post("/follow", data={"csrf": token, "kind": "category", "target": "cmp-lg"})
        assert done.status_code == 303
    day = DAY_START + timedelta(hours=10)
    papers = {
        "Parsing with Primary Listings": (["cs.CL"], day, 2),
        "Translation Cross-listed Here": (["cs.LG", "cs.CL"], day, 7),
        "Vision Elsewhere Entirely": (["cs.CV"], day, 30),
        "Language from the Day Before": (["cs.CL"], DAY_START - timedelta(hours=2), 30),
    }
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title=t, abstract="a", categories=c, feed_at=at, upvotes=v)
                for t, (c, at, v) in papers.items()
            ],
        )
        ids = {t: pid for t, pid in session.execute(select(Paper.title, Paper.public_id))}
        user = find_user(session, "reader")
        assert user is not None
        user_id = user.id
    add(db, "r@example.org", include_trending=False, user_id=user_id)
    assert send_due(settings, db)["sent"] == 1
    (mail,) = smtp_server.messages
    assert mail.html is not None
    page = "https://papers.example.org/papers/category/cs.CL"
    assert "## Computation and Language (cs.CL)" in mail.text
    assert f"More: {page}\n" in mail.text
    assert ">Computation and Language (cs.CL)</h2>" in mail.html
    assert f'href="{page}"' in mail.html
    shown, left_out = list(papers)[:2], list(papers)[2:]
    for part in (mail.text, mail.html):
        # Most upvoted first, as for followed authors and organizations.
        assert part.index(shown[1]) < part.index(shown[0])
        for title in shown:
            assert f"https://papers.example.org/papers/{ids[title]}" in part
        for title in left_out:
            assert title not in part and ids[title] not in part
    assert "2 new papers" in mail.subject
    # Sent once: the next run finds it in the ledger.
    assert send_due(settings, db)["sent"] == 0
    assert len(smtp_server.messages) == 1


def test_transient_failures_are_retried_with_backoff(
    demo_db: Database, faulty_smtp_server: FaultySmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(faulty_smtp_server, tmp_path, demo_db).model_copy(
        update={"digest_retry_backoff": 0.5}
    )
    add(demo_db, "one@example.org")
    faulty_smtp_server.fail_next(451, 2)
    waits: list[float] = []
    report = send_digests(settings, demo_db, sleep=waits.append)
    assert report.sent == 1 and waits == [0.5, 1.0]
    assert len(faulty_smtp_server.messages) == 1


def test_a_digest_that_keeps_failing_is_left_for_the_next_run(
    demo_db: Database, faulty_smtp_server: FaultySmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(faulty_smtp_server, tmp_path, demo_db)
    add(demo_db, "one@example.org")
    faulty_smtp_server.fail_next(451, settings.digest_retries + 1)
    report = send_digests(settings, demo_db, sleep=never_sleep)
    assert (report.sent, report.failed) == (0, 1)
    with demo_db.reader() as session:
        row = session.execute(select(DigestDelivery)).scalar_one()
        assert row.status == "failed" and "451" in (row.error or "")
    assert send_digests(settings, demo_db, sleep=never_sleep).sent == 1
    assert len(faulty_smtp_server.messages) == 1


def test_bounces_are_recorded_and_pause_the_subscription(
    demo_db: Database, faulty_smtp_server: FaultySmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(faulty_smtp_server, tmp_path, demo_db).model_copy(
        update={"digest_bounce_limit": 2}
    )
    gone = add(demo_db, "gone@example.org")
    add(demo_db, "fine@example.org")
    faulty_smtp_server.bounce.add("gone@example.org")
    with clock.frozen(FIXED_NOW - timedelta(days=1)):
        first = send_digests(settings, demo_db, sleep=never_sleep)
    assert (first.sent, first.bounced, first.paused) == (1, 1, 0)
    second = send_digests(settings, demo_db, sleep=never_sleep)
    assert (second.sent, second.bounced, second.paused) == (1, 1, 1)
    with demo_db.reader() as session:
        row = session.get(Subscription, gone)
        assert row.status == "paused" and row.bounce_count == 2
        errors = (
            session.execute(
                select(DigestDelivery.error).where(DigestDelivery.subscription_id == gone)
            )
            .scalars()
            .all()
        )
        assert all("550" in e for e in errors)
    with clock.frozen(FIXED_NOW + timedelta(days=3)):  # Monday
        third = send_digests(settings, demo_db, sleep=never_sleep)
    # Only the working address is due (and it has nothing new since Friday's digest).
    assert (third.due, third.bounced, third.empty) == (1, 0, 1)
    assert [m.rcpt_tos for m in faulty_smtp_server.messages] == [["fine@example.org"]] * 2


def test_a_server_that_is_down_stops_the_run_and_loses_nothing(
    demo_db: Database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(smtp_server, tmp_path, demo_db)
    for n in range(5):
        add(demo_db, f"r{n}@example.org")
    smtp_server.stop()
    with pytest.raises(RunAborted, match="in a row failed"):
        send_due(settings.model_copy(update={"digest_retries": 0}), demo_db)
    restarted = SmtpServer()
    restarted.port = smtp_server.port
    restarted.controller.port = smtp_server.port
    restarted.start()
    try:
        assert send_due(settings, demo_db)["sent"] == 5
        assert sorted(m.rcpt_tos[0] for m in restarted.messages) == [
            f"r{n}@example.org" for n in range(5)
        ]
    finally:
        restarted.stop()


def test_weekends_and_the_send_hour(
    demo_db: Database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(smtp_server, tmp_path, demo_db)
    add(demo_db, "weekday@example.org")
    every_day = add(demo_db, "everyday@example.org")
    with demo_db.transaction() as session:
        session.get(Subscription, every_day).skip_weekends = False
    saturday = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    with clock.frozen(saturday):
        counts = send_due(settings, demo_db)
    # Only the every-day subscriber is due; Friday (its window) had no papers: no email.
    assert (counts["due"], counts["empty"], counts["sent"]) == (1, 1, 0)
    with demo_db.reader() as session:
        row = session.execute(select(DigestDelivery)).scalar_one()
        assert (row.subscription_id, row.period) == (every_day, "daily:2026-11-21")
    early = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # 04:00 in New York
    with clock.frozen(early):
        report = send_digests(settings, demo_db)
    assert report.due == 0 and "not due before 06:00" in report.notes[0]


def test_dry_run_composes_but_sends_and_records_nothing(
    demo_db: Database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = mail_settings(smtp_server, tmp_path, demo_db)
    add(demo_db, "one@example.org")
    add(demo_db, "two@example.org", "weekly")
    report = send_digests(settings, demo_db, dry_run=True)
    assert report.sent == 2 and len(report.previews) == 2
    assert smtp_server.messages == []
    with demo_db.reader() as session:
        assert session.execute(select(DigestDelivery)).first() is None
