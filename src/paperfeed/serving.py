"""Serving the site: the secret-key check, the address links use, uvicorn, and worker jobs
run beside the site (the demo's). Used by `paperfeed serve` and `paperfeed demo`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from paperfeed.cli_support import fail, load_settings, open_database
from paperfeed.config import Settings, get_settings
from paperfeed.plurals import plural

if TYPE_CHECKING:
    from paperfeed.jobs.worker import Worker

PLACEHOLDER_SECRET_KEYS = {"change-me", "changeme", "change_me", "secret", "your-secret-key"}
MIN_SECRET_KEY_LENGTH = 16


def require_real_secret_key(settings: Settings) -> None:
    """Refuse a placeholder PAPERFEED_SECRET_KEY: anyone who read the example could forge
    the tokens it signs. Unset is fine (a random key is generated into the data dir)."""
    key = settings.secret_key
    if key is None:
        return
    stripped = key.strip().strip("\"'").strip()
    if stripped.lower() in PLACEHOLDER_SECRET_KEYS or not stripped:
        problem = f"PAPERFEED_SECRET_KEY is a placeholder ({key!r})"
    elif len(stripped) < MIN_SECRET_KEY_LENGTH:
        problem = (
            f"PAPERFEED_SECRET_KEY is {plural(len(stripped), 'character')} long; "
            f"use at least {MIN_SECRET_KEY_LENGTH}"
        )
    else:
        return
    fail(
        f"{problem}. Generate one with\n"
        "  python3 -c 'import secrets; print(secrets.token_urlsafe(48))'\n"
        "and set the same value on every node (or unset the variable on a single-node site "
        "to have a key generated into the data directory)."
    )


def listen_url(host: str, port: int) -> str:
    """The address links use when PAPERFEED_SITE_URL is unset: where this server listens.

    A wildcard address (`0.0.0.0`, `::`) names no host a browser can reach, so links say
    loopback; a site served to others sets PAPERFEED_SITE_URL (the README says so).
    """
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def serve_site(url: str, host: str, port: int, workers: int, jobs: list[str] | None = None) -> None:
    """Run the site; with `jobs`, also those worker jobs in a thread of this process."""
    import uvicorn

    os.environ["PAPERFEED_DATABASE_URL"] = url
    # Worker processes (`--workers N`) read their settings from this environment too.
    os.environ["PAPERFEED_LISTEN_URL"] = listen_url(host, port)
    get_settings.cache_clear()
    settings = load_settings()
    click.echo(f"Serving on http://{host}:{port}/  (Ctrl+C to stop)")
    if not settings.site_url_is_set:
        click.echo(f"Links point at {settings.site_url} (set PAPERFEED_SITE_URL to change).")
    background = _start_worker(url, settings, jobs) if jobs else None
    try:
        _run_uvicorn(uvicorn, host, port, workers)
    finally:
        if background is not None:
            background.stopping.set()


def _start_worker(url: str, settings: Settings, jobs: list[str]) -> Worker | None:
    """`paperfeed worker --jobs ...` in a daemon thread: the same jobs and leases."""
    import logging
    import threading

    from paperfeed.jobs.worker import Worker, jobs_from_settings

    scheduled = jobs_from_settings(settings, jobs)
    if not scheduled:
        return None
    logging.getLogger("paperfeed").setLevel(logging.INFO)
    runner = Worker(open_database(url), settings, scheduled)
    threading.Thread(target=runner.run_forever, name="worker", daemon=True).start()
    click.echo(f"Worker jobs running in the background: {', '.join(j.name for j in scheduled)}.")
    return runner


def _run_uvicorn(uvicorn: Any, host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "paperfeed.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )
