"""`paperfeed digest send` and `paperfeed digest subscribe` (added to the main command)."""

from __future__ import annotations

import time

import click

from paperfeed.cli_support import fail, load_settings, open_database
from paperfeed.digest.periods import FREQUENCIES, Frequency
from paperfeed.plurals import plural


@click.group()
def digest() -> None:
    """Email digests of trending papers and followed topics."""


@digest.command("send")
@click.option(
    "--period",
    type=click.Choice(FREQUENCIES),
    help="Only daily or only weekly digests (default: both, whichever are due).",
)
@click.option("--dry-run", is_flag=True, help="Compose and list the digests; send nothing.")
def send(period: Frequency | None, dry_run: bool) -> None:
    """Send the digests that are due now; safe to run again (each goes out once).

    A daily digest is due from PAPERFEED_DIGEST_SEND_HOUR (local to the feed's time zone)
    on weekdays, a weekly one from that hour on Monday. A run that was killed can be run
    again: it sends what is missing.
    """
    from paperfeed.digest.sending import send_digests
    from paperfeed.progress import Progress

    settings = load_settings()
    db = open_database(settings.resolved_database_url())
    progress = Progress("digests")
    started = time.perf_counter()
    report = send_digests(
        settings,
        db,
        frequencies=(period,) if period else FREQUENCIES,
        dry_run=dry_run,
        progress=None if dry_run else progress,
    )
    elapsed = time.perf_counter() - started
    progress.close()
    for note in report.notes:
        click.echo(note)
    if dry_run:
        for item in report.previews:
            click.echo(f"would send to {item.to}: {item.subject}")
        click.echo(
            f"dry run: {plural(report.sent, 'digest')} would be sent, {report.empty} with "
            f"nothing new (of {report.due} due)"
        )
        return
    counts = report.counts()
    click.echo(", ".join(f"{value} {name}" for name, value in counts.items()))
    if report.sent and elapsed > 0:
        click.echo(
            f"{report.sent / elapsed:,.0f} emails/s in {elapsed:.1f} s (composing "
            f"{report.compose_seconds:.1f} s, sending {report.send_seconds:.1f} s alongside, "
            f"ledger {report.ledger_seconds:.1f} s)"
        )
    if report.aborted:
        fail(
            f"the run stopped: {report.aborted}\nRun `paperfeed digest send` again once it is "
            "fixed; digests already sent are not sent twice."
        )


@digest.command("subscribe")
@click.argument("email")
@click.option("--weekly", is_flag=True, help="Weekly instead of daily.")
@click.option("--query", "queries", multiple=True, help="A topic to follow (repeatable).")
@click.option("--no-trending", is_flag=True, help="Only the topics, without trending papers.")
def subscribe_command(
    email: str, weekly: bool, queries: tuple[str, ...], no_trending: bool
) -> None:
    """Add a confirmed subscriber (the operator vouches for the address).

    Topics are searched like the search page: `--query "diffusion models"`.
    """
    from paperfeed.digest import subscriptions

    settings = load_settings()
    db = open_database(settings.resolved_database_url())
    try:
        with db.transaction() as session:
            outcome = subscriptions.subscribe(
                session,
                email,
                "weekly" if weekly else "daily",
                include_trending=not no_trending,
                confirmed=True,
            )
            row = outcome.subscription
            if outcome.already_active:
                subscriptions.update_settings(
                    row, "weekly" if weekly else "daily", not no_trending, row.skip_weekends
                )
                subscriptions.resume(row)
            for query in queries:
                subscriptions.add_topic(session, row, query)
            address, frequency = row.email, row.frequency
    except subscriptions.SubscriptionError as exc:
        fail(f"{exc}\nNothing was changed.")
        return
    topics = f" with {plural(len(queries), 'topic')}" if queries else ""
    click.echo(f"{address} gets the {frequency} digest{topics}.")
