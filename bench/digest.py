"""How fast do personalised digests go out, and where does the time go?

The benchmark loads the demo corpus into a fresh SQLite database (clock pinned to Friday
2026-11-20, 15:00 in New York, the tests' day), optionally builds the search index with
the real model, and creates N confirmed subscribers: 70% daily, 30% weekly; 80% with
trending; each following 1-3 topics drawn from the judged queries in
bench/judgments/queries.jsonl, without the no-answer ones (searched with the search
page's ranking) and, for 30%, an organization. Then it runs `send_digests` exactly as
`paperfeed digest send` does: the ledger claims each digest, the digest is composed
from templates (HTML + text), sent over one SMTP connection (renewed every 100 messages)
to a local aiosmtpd server running in its own process, and marked sent.

It reports emails/s and the time spent composing (choosing the papers, rendering,
building the MIME message), sending (SMTP, in a sender thread that overlaps composing)
and in the ledger (claim and mark transactions). Baseline, measured in the same run: a
sample of the same messages sent the naive way, one new SMTP connection per email,
against one connection (taking turns, so background load affects both alike). A second
run checks that the ledger makes a rerun send nothing.

    .venv/bin/python -m bench.digest                   # 10,000 subscribers, with the index
    .venv/bin/python -m bench.digest --subscribers 2000 --no-index
    .venv/bin/python -m bench.digest --smoke           # 150 subscribers, no model (CI)

The exit status is 1 if the server did not receive exactly one message per digest sent.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


# --- the SMTP server, in its own process --------------------------------------------------


def serve_smtp(port: int) -> None:
    """Accept and count messages until stdin closes; print the count."""
    from aiosmtpd.controller import Controller

    class Counter:
        count = 0
        size = 0

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            Counter.count += 1
            Counter.size += len(envelope.original_content or b"")
            return "250 2.0.0 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()
    print(f"{Counter.count} {Counter.size}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.digest", "--serve-smtp", str(port)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    return server, port


def stop_server(server: subprocess.Popen[str]) -> tuple[int, int]:
    out, _ = server.communicate("", timeout=60)
    count, size = out.split()[-2:]
    return int(count), int(size)


# --- the site and its subscribers ----------------------------------------------------------


def build(directory: Path, subscribers: int, with_index: bool, seed: int):  # type: ignore[no-untyped-def]
    from sqlalchemy import insert, select

    from paperfeed.config import Settings
    from paperfeed.db import Database
    from paperfeed.demo import load_demo
    from paperfeed.digest.subscriptions import topic_name
    from paperfeed.models import Organization, SavedSearch, Subscription

    db = Database(f"sqlite:///{directory / 'digest.sqlite3'}")
    db.upgrade()
    settings = Settings(
        data_dir=directory,
        database_url=db.url,
        secret_key="bench",
        site_url="https://papers.example.org",
        index_dir=directory / "index",
    )
    load_demo(db, settings.tz)
    if with_index:
        from paperfeed.search.indexing import run_index

        run_index(db, settings)
    # Topics people follow find something: the judged queries without the no-answer ones.
    judged = (ROOT / "bench" / "judgments" / "queries.jsonl").read_text().splitlines()
    queries = [
        q["query"]
        for q in (json.loads(line) for line in judged if line.strip())
        if q["type"] != "no-answer"
    ]
    rng = random.Random(seed)
    with db.transaction() as session:
        orgs = list(session.execute(select(Organization.name)).scalars())
        rows = [
            {
                "email": f"reader{n:06d}@example.org",
                "frequency": "daily" if rng.random() < 0.7 else "weekly",
                "include_trending": rng.random() < 0.8,
                "skip_weekends": True,
                "status": "active",
                "bounce_count": 0,
                "created_at": NOW,
                "confirmed_at": NOW,
            }
            for n in range(subscribers)
        ]
        session.execute(insert(Subscription), rows)
        ids = list(session.execute(select(Subscription.id).order_by(Subscription.id)).scalars())
        topics = []
        for subscription_id in ids:
            for query in rng.sample(queries, rng.randint(1, 3)):
                topics.append((subscription_id, query, None))
            if orgs and rng.random() < 0.3:
                topics.append((subscription_id, "", {"org": rng.choice(orgs)}))
        session.execute(
            insert(SavedSearch),
            [
                {
                    "subscription_id": sid,
                    "user_id": None,
                    "name": topic_name(query, filters or {}),
                    "query": query,
                    "filters": filters,
                    "created_at": NOW,
                }
                for sid, query, filters in topics
            ],
        )
    return settings, db, len(topics)


def sample_messages(settings, db, sample: int) -> list:  # type: ignore[no-untyped-def, type-arg]
    """Complete digests for the first subscribers, composed as the run composed them."""
    from sqlalchemy import select

    from paperfeed.digest.compose import compose, to_message
    from paperfeed.digest.content import ContentSource
    from paperfeed.digest.periods import current_period
    from paperfeed.digest.sending import engine_searcher
    from paperfeed.digest.subscriptions import topics
    from paperfeed.models import Subscription

    messages = []
    with db.reader() as session:
        source = ContentSource(settings, session, engine_searcher(settings, db))
        for row in session.execute(select(Subscription).limit(sample * 2)).scalars():
            period = current_period(row.frequency, NOW, settings.tz)
            start = period.window_start(None, True)
            content = source.for_subscription(
                row, topics(session, row.id), [], start, period.window_end
            )
            if not content.empty:
                messages.append(to_message(settings, compose(settings, row, period, content)))
            if len(messages) == sample:
                break
    return messages


def smtp_rates(settings, messages: list, rounds: int = 2) -> tuple[float, float]:  # type: ignore[no-untyped-def, type-arg]
    """Emails/s over one connection and with a new connection per email (the baseline),
    the two taking turns so that background load affects both alike; best round each."""
    from paperfeed.mail import Mailer

    # One TLS context for all: the mailer makes one per connection even for plain SMTP,
    # which would otherwise dominate the baseline.
    context = ssl.create_default_context()
    shared, fresh = 0.0, 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        with Mailer(settings, ssl_context=context) as mailer:
            for message in messages:
                mailer.send_message(message)
        shared = max(shared, len(messages) / (time.perf_counter() - started))
        started = time.perf_counter()
        for message in messages:
            with Mailer(settings, ssl_context=context) as mailer:
                mailer.send_message(message)
        fresh = max(fresh, len(messages) / (time.perf_counter() - started))
    return shared, fresh


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--no-index", action="store_true", help="skip the model and index")
    parser.add_argument("--baseline", type=int, default=300, help="digests in the SMTP comparison")
    parser.add_argument("--smoke", action="store_true", help="150 subscribers, no model")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve-smtp", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_smtp:
        serve_smtp(args.serve_smtp)
        return 0
    if args.smoke:
        args.subscribers, args.no_index, args.baseline = 150, True, 30

    from paperfeed import clock
    from paperfeed.digest.sending import send_digests

    clock.set_now(NOW)
    server, port = start_server()
    with tempfile.TemporaryDirectory(prefix="pf-digest-bench-") as tmp:
        started = time.perf_counter()
        settings, db, topic_count = build(Path(tmp), args.subscribers, not args.no_index, args.seed)
        settings = settings.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "mail_from": "paperfeed <digest@papers.example.org>",
            }
        )
        print(
            f"{args.subscribers:,} subscribers, {topic_count:,} followed topics, "
            f"index {'on' if not args.no_index else 'off'} "
            f"(setup {time.perf_counter() - started:.1f} s)"
        )
        started = time.perf_counter()
        report = send_digests(settings, db)
        wall = time.perf_counter() - started
        started = time.perf_counter()
        rerun = send_digests(settings, db)
        rerun_wall = time.perf_counter() - started
        messages = sample_messages(settings, db, args.baseline)
        shared_rate, naive_rate = smtp_rates(settings, messages)
        db.dispose()
    received, size = stop_server(server)

    rate = report.sent / wall if wall else 0.0
    send_rate = report.sent / report.send_seconds if report.send_seconds else 0.0
    print(
        f"\nsent {report.sent:,} digests, {report.empty:,} empty (not sent); "
        f"average message {size / max(received, 1) / 1024:.1f} kB"
    )
    print()
    print("| run | emails | seconds | emails/s |")
    print("|---|---:|---:|---:|")
    print(f"| paperfeed digest send (end to end) | {report.sent:,} | {wall:.1f} | {rate:,.0f} |")
    print(
        f"| of which SMTP (one connection) | {report.sent:,} | {report.send_seconds:.1f} | "
        f"{send_rate:,.0f} |"
    )
    print(f"| rerun (ledger: nothing left) | {rerun.sent} | {rerun_wall:.2f} | - |")
    print()
    print("| stage (composing overlaps sending) | seconds | of wall time |")
    print("|---|---:|---:|")
    for label, seconds in (
        ("composing (papers + templates + MIME)", report.compose_seconds),
        ("sending (SMTP, in the sender thread)", report.send_seconds),
        ("ledger (claims and marks)", report.ledger_seconds),
    ):
        print(f"| {label} | {seconds:.1f} | {100 * seconds / wall:.0f}% |")
    print()
    print(f"SMTP only, the same {len(messages)} digests, taking turns (best of 2):")
    print("| sending | emails/s |")
    print("|---|---:|")
    print(f"| one connection (paperfeed) | {shared_rate:,.0f} |")
    print(f"| baseline: a new connection per email | {naive_rate:,.0f} |")
    if naive_rate:
        print(f"\none connection: {shared_rate / naive_rate:.1f}x the baseline's rate")
    expected = report.sent + 4 * len(messages)
    if received != expected or rerun.sent != 0:
        print(
            f"error: the server received {received} messages, expected {expected}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
