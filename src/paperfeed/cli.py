"""The `paperfeed` command."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperfeed.cli_support import (
    NO_DATA_ADVICE,
    database_location,
    fail,
    job_names,
    load_settings,
    open_database,
    report_bad_line,
)
from paperfeed.config import Settings
from paperfeed.demo_cli import demo
from paperfeed.digest.cli import digest
from paperfeed.latex import plain_text
from paperfeed.plurals import plural
from paperfeed.serving import require_real_secret_key, serve_site

if TYPE_CHECKING:  # imported where used: the command starts without loading them
    from datetime import datetime

    from sqlalchemy.orm import Session

    from paperfeed.db import Database
    from paperfeed.models import User
    from paperfeed.search.engine import SearchSort


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paperfeed")
def main() -> None:
    """paperfeed: a self-hosted Daily Papers.

    Settings come from PAPERFEED_* environment variables (see docs/configuration.md); with none
    set, data lives in a SQLite file under ~/.local/share/paperfeed.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web worker processes.",
)
@click.option(
    "--allow-demo",
    is_flag=True,
    help="Serve a demo database too (its accounts' passwords were printed on a terminal).",
)
def serve(host: str, port: int, workers: int, allow_demo: bool) -> None:
    """Serve the site (migrating the database first if needed)."""
    from paperfeed.demo import is_demo_database

    settings = load_settings()
    require_real_secret_key(settings)
    url = settings.resolved_database_url()
    db = open_database(url)
    with db.reader() as session:
        demo_data = is_demo_database(session)
    db.dispose()
    if demo_data and not allow_demo:
        fail(
            f"{database_location(url)} is a demo database: its sample papers and demo accounts "
            "(whose passwords were printed on a terminal) must not reach a real site. Point "
            "PAPERFEED_DATABASE_URL at your site's database, run `paperfeed demo` to serve the "
            "demo, or pass --allow-demo to serve it anyway."
        )
    serve_site(url, host, port, workers)


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "paperfeed", "arxiv-snapshot"]),
    default="auto",
    show_default=True,
    help="Record format; auto tells arXiv snapshot lines from paperfeed lines.",
)
@click.option(
    "--restart", is_flag=True, help="arxiv-snapshot: start from the top, not where it stopped."
)
@click.option(
    "--no-index", is_flag=True, help="arxiv-snapshot: skip updating the keyword index after."
)
def import_(file: Path, fmt: str, restart: bool, no_index: bool) -> None:
    """Import papers from a JSON-lines FILE (idempotent: importing twice changes nothing).

    Bad records are reported with their line number and skipped. With --format
    arxiv-snapshot, arXiv's bulk metadata snapshot goes through a fast path that resumes
    where a killed import stopped, then updates the keyword index.
    """
    from paperfeed.ingest.importer import import_file

    settings = load_settings()
    db = open_database(settings.resolved_database_url())
    if file.suffix == ".npz":
        _import_embeddings(db, file)
        return
    if fmt == "arxiv-snapshot":
        _import_snapshot(db, settings, file, restart, no_index)
        return
    started = time.perf_counter()
    stats = import_file(db, file, fmt, settings.tz, report=report_bad_line)
    elapsed = time.perf_counter() - started
    click.echo(
        f"{file.name}: {stats.added} added, {stats.updated} updated, "
        f"{stats.unchanged} unchanged, {stats.skipped} skipped in {elapsed:.1f}s"
    )
    if stats.skipped and not (stats.added or stats.updated or stats.unchanged):
        fail("no record could be imported; see the reasons above")


def _import_snapshot(
    db: Database, settings: Settings, file: Path, restart: bool, no_index: bool
) -> None:
    from paperfeed.ingest.snapshot import import_snapshot
    from paperfeed.progress import Progress
    from paperfeed.search.indexing import run_index

    started = time.perf_counter()
    progress = Progress(f"importing {file.name}")
    stats = import_snapshot(db, file, report=report_bad_line, progress=progress, restart=restart)
    progress.close()
    elapsed = time.perf_counter() - started
    resumed = f" (resumed after line {stats.resumed_at_line:,})" if stats.resumed_at_line else ""
    rate = (stats.added + stats.updated + stats.unchanged) / max(elapsed, 1e-9)
    click.echo(
        f"{file.name}{resumed}: {stats.added} added, {stats.updated} updated, "
        f"{stats.unchanged} unchanged, {stats.skipped} skipped in {elapsed:.1f}s "
        f"({rate:,.0f} records/s)"
    )
    if stats.skipped and not (stats.added or stats.updated or stats.unchanged):
        fail("no record could be imported; see the reasons above")
    if no_index:
        click.echo("Keyword index not updated: run `paperfeed index` to make them searchable.")
        return
    started = time.perf_counter()
    index = run_index(db, settings, progress=Progress, embed=False)
    click.echo(
        f"Keyword index: {plural(index.sync.papers, 'paper')} indexed in "
        f"{time.perf_counter() - started:.1f}s (run `paperfeed index` to embed them too)."
    )


def _import_embeddings(db: Database, file: Path) -> None:
    from paperfeed.search.embeddings import EmbeddingFileError, import_embeddings
    from paperfeed.search.index import DIM
    from paperfeed.search.indexing import MODEL_NAME

    try:
        stats = import_embeddings(db, file, DIM, MODEL_NAME)
    except EmbeddingFileError as exc:
        fail(f"{exc}\nSee the README, section 'Precomputed embeddings'.")
    click.echo(
        f"{file.name}: {plural(stats.imported, 'embedding')} imported, "
        f"{plural(stats.unknown_ids, 'id')} not found "
        "(skipped). Run `paperfeed index` to update the search index."
    )
    if stats.unknown_ids and not stats.imported:
        fail("none of the ids in the file are papers here")


@main.group()
def ingest() -> None:
    """Bring papers in from arXiv: OAI-PMH harvests, or lookups by id."""


@ingest.command("arxiv")
@click.option(
    "--from",
    "from_date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="First datestamp to harvest (default: where the last complete harvest ended).",
)
@click.option("--until", "until_date", type=click.DateTime(["%Y-%m-%d"]), help="Last datestamp.")
@click.option("--set", "set_spec", help="An arXiv set: cs, math, physics:hep-th... (default: all).")
@click.option(
    "--format",
    "prefix",
    type=click.Choice(["arXivRaw", "arXiv"]),
    help="OAI-PMH metadata format (default PAPERFEED_ARXIV_OAI_FORMAT, arXivRaw).",
)
@click.option("--ids", help="Fetch these ids (comma-separated) from the arXiv API instead.")
def ingest_arxiv(
    from_date: datetime | None,
    until_date: datetime | None,
    set_spec: str | None,
    prefix: str | None,
    ids: str | None,
) -> None:
    """Harvest new and changed arXiv papers (OAI-PMH), resuming a harvest that stopped.

    Every page is committed with a checkpoint, so a killed harvest continues where it
    stopped when run again. Deleted records hide their paper; new versions are added to
    the paper's history.
    """
    settings = load_settings()
    db = open_database(settings.resolved_database_url())
    started = time.perf_counter()
    if ids:
        _ingest_ids(db, settings, ids.split(","))
        return
    from paperfeed.ingest.oai import HarvestRange, OaiClient, OaiError, harvest
    from paperfeed.progress import Progress

    progress = Progress("harvesting")
    wanted = HarvestRange(
        from_date.date() if from_date else None,
        until_date.date() if until_date else None,
        set_spec or settings.arxiv_oai_set,
        prefix or settings.arxiv_oai_format,
    )
    try:
        with OaiClient.from_settings(settings) as client:
            stats = harvest(
                db,
                settings,
                client,
                wanted,
                report=lambda where, why: click.echo(f"{where or 'harvest'}: {why}", err=True),
                progress=progress,
            )
    except OaiError as exc:
        progress.close()
        fail(str(exc))
    progress.close()
    span = f"{stats.from_date}..{stats.until_date or ''}"
    click.echo(
        f"harvest {span}{' (resumed)' if stats.resumed else ''}: {plural(stats.pages, 'page')}, "
        f"{stats.added} added, {stats.updated} updated, {stats.unchanged} unchanged, "
        f"{stats.deleted} deleted, {stats.skipped} skipped, {stats.entered_feed} entered the "
        f"feed in {time.perf_counter() - started:.1f}s"
    )


def _ingest_ids(db: Database, settings: Settings, ids: list[str]) -> None:
    from paperfeed.ingest.arxiv_api import ArxivClient, ArxivError, ingest_ids

    try:
        with ArxivClient.from_settings(settings) as client:
            stats = ingest_ids(
                db, client, ids, report=lambda i, why: click.echo(f"{i}: {why}", err=True)
            )
    except ArxivError as exc:
        fail(str(exc))
    click.echo(
        f"{stats.added} added, {stats.updated} updated, {stats.unchanged} unchanged, "
        f"{stats.skipped} not found"
    )
    if stats.skipped and not (stats.added or stats.updated or stats.unchanged):
        fail("arXiv had none of these ids; check them")


@main.command()
@click.option(
    "--rebuild",
    is_flag=True,
    help="Build this node's index again from the database, then swap it in.",
)
@click.option("--reembed", is_flag=True, help="Also recompute every paper's embedding.")
@click.option("--no-embed", is_flag=True, help="Only sync the index; embed nothing new.")
def index(rebuild: bool, reembed: bool, no_embed: bool) -> None:
    """Bring the search index up to date with the database.

    Embeds new or changed papers (stored in the database, shared by every node), then
    updates this node's keyword and vector indexes. Incremental and resumable: a killed
    run continues where it stopped.
    """
    from paperfeed.config import index_dir_for
    from paperfeed.progress import Progress
    from paperfeed.search.indexing import run_index

    settings = load_settings()
    database = open_database(settings.resolved_database_url())
    started = time.perf_counter()

    def waiting() -> None:
        click.echo(
            f"Waiting: another process is syncing the search index in "
            f"{index_dir_for(settings, database.url)} ...",
            err=True,
        )

    try:
        stats = run_index(
            database,
            settings,
            rebuild=rebuild,
            reembed=reembed,
            progress=Progress,
            embed=not no_embed,
            on_wait=waiting,
        )
    except ImportError as exc:
        fail(f"the embedding model is not installed ({exc}); run `bash scripts/setup`")
    click.echo(
        f"{plural(stats.embed.embedded, 'paper')} embedded, {plural(stats.sync.papers, 'paper')} "
        f"and {plural(stats.sync.vectors, 'vector')} indexed in "
        f"{time.perf_counter() - started:.1f}s"
    )


@main.command()
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Papers per transaction.")
def keywords(batch: int | None) -> None:
    """Extract keywords of new and changed papers (what the worker's keywords job does).

    Incremental and resumable: papers whose title and abstract did not change keep their
    keywords, and a killed run continues where it stopped.
    """
    from paperfeed.progress import Progress
    from paperfeed.search.keywords import update_keywords

    settings = load_settings()
    database = open_database(settings.resolved_database_url())
    started = time.perf_counter()
    progress = Progress("keywords")
    stats = update_keywords(database, settings, batch=batch, progress=progress)
    progress.close()
    click.echo(
        f"{plural(stats.computed, 'paper')} given keywords "
        f"({plural(stats.examined, 'paper')} examined) in {time.perf_counter() - started:.1f}s"
    )


@main.command("search")
@click.argument("query")
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, 200), help="Results to show."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of results.")
@click.option(
    "--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Published on or after."
)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Published on or before.")
@click.option("--org", help="Organization name.")
@click.option("--author", help="Author name.")
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="An arXiv category (cs.CL) or archive (cs); repeatable: papers in any of them.",
)
@click.option(
    "--sort",
    type=click.Choice(["relevance", "upvotes", "newest"]),
    default="relevance",
    show_default=True,
    help="Order of the matches: relevance, most upvoted, or newest first.",
)
def search_command(
    query: str,
    limit: int,
    as_json: bool,
    date_from: datetime | None,
    date_to: datetime | None,
    org: str | None,
    author: str | None,
    categories: tuple[str, ...],
    sort: SearchSort,
) -> None:
    """Search papers with the same ranking as the site."""
    import json

    from sqlalchemy import exists, select

    from paperfeed.models import Organization, Paper
    from paperfeed.papers.topics import UnknownCategory, category_filter
    from paperfeed.search.engine import SearchRequest, search
    from paperfeed.search.lexical import Filters
    from paperfeed.search.runtime import SearchRuntime

    settings = load_settings()
    url = settings.resolved_database_url()
    database = open_database(url, must_exist=True)
    runtime = SearchRuntime(settings, database)
    filters = Filters(
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
        author=author,
    )
    try:
        filters.categories = category_filter(categories)
    except UnknownCategory as exc:
        fail(str(exc))
    with database.reader() as session:
        if org:
            filters.organization_id = session.execute(
                select(Organization.id).where(Organization.name == org)
            ).scalar_one_or_none()
            if filters.organization_id is None:
                fail(f"there is no organization named {org!r}")
        if not session.execute(select(exists().where(Paper.id.isnot(None)))).scalar():
            fail(f"the database at {database_location(url)} has no papers. {NO_DATA_ADVICE}")
        if runtime.index() is None:
            fail(
                f"the papers at {database_location(url)} have no search index yet: "
                "run `paperfeed index`"
            )
        result = search(
            session,
            runtime.index(),
            runtime.embeddings(),
            SearchRequest(q=query, filters=filters, sort=sort, per_page=limit),
        )
        if result.redirect_to:
            rows = [{"id": result.redirect_to, "title": None, "score": 1.0}]
        else:
            rows = [
                {
                    "id": hit.paper.public_id,
                    "title": hit.paper.title,
                    "score": round(hit.score, 6),
                    "upvotes": hit.paper.upvotes,
                    "published": hit.paper.published_at.date().isoformat()
                    if hit.paper.published_at
                    else None,
                }
                for hit in result.hits
            ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if result.message and not rows:
        click.echo(result.message)
        return
    matches = plural(result.total, "paper matches", "papers match")
    click.echo(matches if not result.redirect_to else "arXiv id found:")
    for n, row in enumerate(rows, start=1):
        click.echo(f"{n:>3}. {row['id']:<18} {plain_text(row['title'] or '')}")


@main.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option(
    "--jobs",
    default="harvest,index,keywords,github,hub,thumbnails,summaries,digest,mail",
    show_default=True,
    help="Comma-separated jobs to run: harvest, index, keywords, github, hub, thumbnails, "
    "summaries, digest, mail.",
)
def worker(once: bool, jobs: str) -> None:
    """Run harvest, index, keywords, github, hub, thumbnails, summaries, digests and mail on the
    PAPERFEED_WORKER_* schedule.

    Each job takes a lease in the database first, so several workers never run the same
    job at once, and a crashed worker's jobs are picked up when its lease expires.
    """
    import logging
    import signal

    from paperfeed.jobs.worker import Worker, jobs_from_settings

    names = job_names(jobs)
    settings = load_settings()
    require_real_secret_key(settings)
    db = open_database(settings.resolved_database_url())
    scheduled = jobs_from_settings(settings, names)
    if not scheduled:
        fail("every selected job is turned off (PAPERFEED_WORKER_*_INTERVAL=0)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    runner = Worker(db, settings, scheduled)
    if once:
        runs = runner.run_once()
        for run in runs:
            click.echo(f"{run.job}: {run.status}{f' ({run.detail})' if run.detail else ''}")
        if not runs:
            click.echo("nothing due (or another worker holds the leases); see `paperfeed status`")
        if any(run.status == "failed" for run in runs):
            sys.exit(1)
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: runner.stopping.set())
    click.echo(f"worker {runner.holder}: {', '.join(j.name for j in scheduled)} (Ctrl+C to stop)")
    runner.run_forever()


@main.command()
def status() -> None:
    """Show the last run of each job, running leases, paper counts, the mail queue and
    ingest cursors."""
    from paperfeed.jobs.status import collect, render

    settings = load_settings()
    url = settings.resolved_database_url()
    db = open_database(url, must_exist=True)
    report = collect(db, settings)
    click.echo(f"database: {database_location(url)}")
    click.echo(render(report))
    if report["papers"]["total"] == 0:
        click.echo(f"This database has no papers. {NO_DATA_ADVICE}")


@main.group()
def user() -> None:
    """Manage accounts: create, promote, ban."""


def _find_user(session: Session, name: str) -> User:
    from paperfeed.community.accounts import find_user

    found = find_user(session, name)
    if found is None:
        fail(f"there is no user {name!r}")
    return found


@user.command("create")
@click.argument("username")
@click.option("--email", required=True, help="The account's email address.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="PAPERFEED_NEW_PASSWORD",
    help="Prompted for when not given (or set PAPERFEED_NEW_PASSWORD).",
)
@click.option(
    "--role",
    type=click.Choice(["user", "moderator", "admin"]),
    default="user",
    show_default=True,
    help="The account's role.",
)
def user_create(username: str, email: str, password: str, role: str) -> None:
    """Create an account (its email counts as confirmed)."""
    from paperfeed.community.accounts import AccountError, create_user

    url = load_settings().resolved_database_url()
    database = open_database(url)
    try:
        with database.transaction() as session:
            created = create_user(session, username, email, password, role=role, verified=True)
    except AccountError as exc:
        fail(str(exc))
    click.echo(f"Created {created.username} ({role}) in {database_location(url)}.")


@user.command("promote")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(["user", "moderator", "admin"]), required=True, help="The new role."
)
def user_promote(username: str, role: str) -> None:
    """Give USERNAME a role (user, moderator or admin)."""
    from paperfeed.community.accounts import set_role

    database = open_database(load_settings().resolved_database_url())
    with database.transaction() as session:
        found = _find_user(session, username)
        set_role(session, found, role)
    click.echo(f"{username} is now {role}.")


@user.command("ban")
@click.argument("username")
@click.option("--reason", default="", help="Recorded in the moderation log.")
@click.option("--undo", is_flag=True, help="Lift the ban instead.")
def user_ban(username: str, reason: str, undo: bool) -> None:
    """Ban USERNAME: ends all their sessions and blocks logging in."""
    from paperfeed.community.accounts import ban, unban

    database = open_database(load_settings().resolved_database_url())
    with database.transaction() as session:
        found = _find_user(session, username)
        if undo:
            unban(session, found)
        else:
            ban(session, found, reason)
    click.echo(f"{username} is {'no longer banned' if undo else 'banned'}.")


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command()
def upgrade() -> None:
    """Apply Alembic migrations up to the newest schema."""
    from paperfeed.db import current_revision

    settings = load_settings()
    database = open_database(settings.resolved_database_url())
    click.echo(f"Database schema at revision {current_revision(database.engine)}.")


main.add_command(demo)
main.add_command(digest)


if __name__ == "__main__":
    main()
