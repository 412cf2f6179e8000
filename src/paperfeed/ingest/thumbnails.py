"""The worker's `thumbnails` job: the first pages of the feed's new arXiv papers.

Which papers are due, how a PDF is rendered (in a child process) and how a result is
stored are in papers/thumbnails.py; this is the run that asks arXiv (ingest/arxiv_pdf.py):
at most `PAPERFEED_THUMBNAIL_BATCH` papers, newest in the feed first, one request each on
arXiv's pace, each result in its own transaction, so a killed run loses at most the paper
it was on and the next run takes what is still due. A 403 or 429 that outlasts the
retries (arXiv refusing this site) ends the run at once, marking nothing, and no run on
any worker asks arXiv for an hour (ingest/pauses.py). A renderer that crashed or ran out
of time is an error, tried again a day later, and skipped after three.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.arxiv_pdf import ArxivPdfClient, PdfTooLarge
from paperfeed.ingest.http_client import RemoteRefused, RemoteUnavailable
from paperfeed.ingest.pauses import pause_until, paused_until
from paperfeed.papers.thumbnails import (
    Renderer,
    RenderFailed,
    Unusable,
    due_count,
    due_papers,
    status_counts,
    store_result,
)

__all__ = ["ThumbnailStats", "due_count", "run", "status_counts", "update_thumbnails"]

log = logging.getLogger(__name__)

PAUSE_CURSOR = "thumbnails:refused"
REFUSED_PAUSE = timedelta(hours=1)  # after arXiv refuses this site (403, or 429 at length)


@dataclass
class ThumbnailStats:
    rendered: int = 0
    missing: int = 0  # arXiv has no PDF (404)
    skipped: int = 0  # too big, malformed, too slow to render, or too many errors
    errors: int = 0  # arXiv did not answer: tried again after a day
    left: int = 0  # due papers not fetched this run (the batch was full)
    render_ms: list[int] = field(default_factory=list)
    stopped: str | None = None  # arXiv refused us: the run ended early

    def counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "rendered": self.rendered,
            "missing": self.missing,
            "skipped": self.skipped,
            "errors": self.errors,
            "left": self.left,
        }
        if self.render_ms:
            counts["render ms p50"] = f"{statistics.median(self.render_ms):.0f}"
        if self.stopped:
            counts["stopped"] = self.stopped
        return counts


Progress = Callable[[int, int], None]  # (done, total) papers of this run


def update_thumbnails(
    db: Database,
    settings: Settings,
    client: ArxivPdfClient,
    renderer: Renderer,
    progress: Progress | None = None,
) -> ThumbnailStats:
    """Fetch and render the due papers' first pages, at most `thumbnail_batch` of them."""
    stats = ThumbnailStats()
    waiting = paused_until(db, PAUSE_CURSOR)
    if waiting is not None:
        stats.stopped = f"arXiv refused this site; waiting until {waiting:%Y-%m-%d %H:%M} UTC"
        stats.left = due_count(db, settings)
        return stats
    todo = due_papers(db, settings, settings.thumbnail_batch)
    for done, (paper_id, arxiv_id, version) in enumerate(todo, start=1):
        try:
            data = client.pdf(arxiv_id, version)
        except PdfTooLarge as exc:
            store_result(db, paper_id, version, "skipped", str(exc))
            stats.skipped += 1
        except RemoteRefused as exc:
            if exc.status in (403, 429):  # arXiv refuses this site: stop asking at once
                pause_until(db, PAUSE_CURSOR, clock.now() + REFUSED_PAUSE)
                stats.stopped = str(exc)
                log.warning("thumbnails: %s; no PDF is asked for an hour", exc)
                break
            store_result(db, paper_id, version, "error", str(exc))
            stats.errors += 1
        except RemoteUnavailable as exc:
            store_result(db, paper_id, version, "error", str(exc))
            stats.errors += 1
        else:
            if data is None:
                store_result(db, paper_id, version, "missing", "arXiv has no PDF (HTTP 404)")
                stats.missing += 1
            else:
                try:
                    rendered = renderer.render(data)
                except RenderFailed as exc:  # tried again tomorrow, then skipped
                    store_result(db, paper_id, version, "error", str(exc), pdf_bytes=len(data))
                    stats.errors += 1
                except Unusable as exc:
                    store_result(db, paper_id, version, "skipped", str(exc), pdf_bytes=len(data))
                    stats.skipped += 1
                else:
                    store_result(db, paper_id, version, "rendered", None, rendered, len(data))
                    stats.rendered += 1
                    stats.render_ms.append(round(rendered.seconds * 1000))
        if progress:
            progress(done, len(todo))
        if done % 20 == 0:
            log.info("thumbnails: %d of %d papers", done, len(todo))
    stats.left = due_count(db, settings)
    return stats


def run(db: Database, settings: Settings, progress: Progress | None = None) -> ThumbnailStats:
    """The worker's `thumbnails` job, with its own client and renderer."""
    with ArxivPdfClient.from_settings(settings) as client, Renderer() as renderer:
        return update_thumbnails(db, settings, client, renderer, progress)
