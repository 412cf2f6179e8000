"""A paper as rich as on Hugging Face, end to end: the demo corpus; `paperfeed worker --once`
(the real command, in its own process) runs the enrichment jobs against loopback stand-ins
of GitHub's API, the Hub, arXiv's PDF server and a chat-completions endpoint; then a
reader finds the paper's card with its first page and stars on its feed day, opens it and
reads the models citing it and its machine-written summary. No layout shift on either page
(CLS, measured by the browser), no console errors, and the official client reads the same
fields. At desktop and mobile widths."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from huggingface_hub import HfApi
from sqlalchemy import select

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.models import JobRun, Paper
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.search.indexing import run_index
from paperfeed.web.app import create_app
from tests.chat_server import FakeChatApi
from tests.conftest import make_settings
from tests.hub_server import running_hub
from tests.pdf_server import FakeArxivPdf, make_pdf
from tests.servers import FakeGitHubApi
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below

JOBS = ("github", "hub", "thumbnails", "summaries")  # the enrichment a paper page shows
REPO = "Enriched-Lab/enriched"
MODEL = "enriched-lab/a-model-trained-as-the-paper-says"
CLS_GOOD = 0.1  # Web Vitals: "good" is at most 0.1


@dataclass
class Site:
    url: str
    paper: str  # public id of the enriched paper
    arxiv_id: str
    day: str  # its feed day, as in /papers/date/{day}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("live-enrichment")
    url = f"sqlite:///{tmp / 'enrichment.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp, url)
    settings.index_dir = tmp / "index"
    load_demo(db, settings.tz)  # its arXiv papers are from 2007: no thumbnails for them
    fresh = PaperRecord(
        title="Sparse Mixtures of Adapters for Fast Multilingual Speech Recognition",
        abstract=(
            "We train a speech recogniser for forty languages with a sparse mixture of small "
            "adapters on a frozen encoder. Each utterance is routed to two adapters chosen by "
            "a learned router, so inference costs as much as one small model. On a public "
            "multilingual benchmark the model lowers word error rates by a tenth against "
            "dense fine-tuning. We release the code and the trained adapters."
        ),
        arxiv_id="2611.04321",
        authors=["Ada Lovelace", "Alan Turing"],
        categories=["cs.CL", "eess.AS"],
        github_url=f"https://github.com/{REPO}",
        feed_at=clock.now() - timedelta(hours=2),
    )
    with db.transaction() as session:
        upsert_papers(session, [fresh])
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2611.04321")).one()
        assert paper.feed_at is not None
        target = Site(
            "",
            paper.public_id,
            "2611.04321",
            paper.feed_at.astimezone(settings.tz).date().isoformat(),
        )
    github, arxiv, chat = FakeGitHubApi().start(), FakeArxivPdf().start(), FakeChatApi().start()
    github.add(REPO, 4321, "Code for the paper")
    for version in range(1, 6):
        arxiv.papers[f"{target.arxiv_id}v{version}"] = make_pdf("An enriched paper")
    with running_hub() as hub:
        hub.add("model", MODEL, likes=321, downloads=54_321, arxiv=target.arxiv_id)
        hub.add("dataset", "enriched-lab/its-benchmark", likes=12, arxiv=target.arxiv_id)
        env = {
            **os.environ,
            "PAPERFEED_DATABASE_URL": url,
            "PAPERFEED_DATA_DIR": str(tmp),
            "PAPERFEED_GITHUB_API_URL": github.url,
            "PAPERFEED_GITHUB_REQUEST_INTERVAL": "0",
            "PAPERFEED_HUB_ENDPOINT": hub.url,
            "PAPERFEED_HUB_REQUEST_INTERVAL": "0",
            "PAPERFEED_HUB_BATCH": "5",  # the newest first: ours among them
            "PAPERFEED_ARXIV_PDF_URL": arxiv.url,
            "PAPERFEED_ARXIV_REQUEST_INTERVAL": "0",
            "PAPERFEED_SUMMARY_API_URL": chat.url,
            "PAPERFEED_SUMMARY_MODEL": "test-model-1",
            "PAPERFEED_SUMMARY_REQUEST_INTERVAL": "0",
            "PAPERFEED_SUMMARY_BATCH": "5",
        }
        done = subprocess.run(
            [sys.executable, "-m", "paperfeed.cli", "worker", "--once", "--jobs", ",".join(JOBS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        hub_endpoint = hub.url
    for server in (github, arxiv, chat):
        server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    # Each job's progress with its ETA (a line a minute in a log, and the last one).
    for line in ("hub: 5/5 (100%)", "thumbnails: 1/1 (100%)", "summaries: 5/5 (100%)"):
        assert line in done.stderr, done.stderr[-3000:]
    with db.reader() as session:
        runs = {run.job: run for run in session.scalars(select(JobRun))}
    assert {job: runs[job].status for job in JOBS} == dict.fromkeys(JOBS, "ok"), {
        job: runs[job].error for job in JOBS
    }
    counts = {job: runs[job].counts or {} for job in JOBS}
    assert counts["github"]["fetched"] == 1, counts
    assert counts["hub"]["linked"] == 1, counts
    assert counts["thumbnails"]["rendered"] == 1, counts
    assert counts["summaries"]["written"] >= 1, counts
    run_index(db, settings, embed=False)
    live = start_server(create_app(settings.model_copy(update={"hub_endpoint": hub_endpoint}), db))
    target.url = live.url
    yield target
    live.stop()
    db.dispose()


def scroll_through(page) -> None:  # type: ignore[no-untyped-def]
    """Scroll to the end and back, as a reader would, so lazy images load on the way."""
    height = page.evaluate("document.documentElement.scrollHeight")
    for _ in range(0, int(height) + 800, 800):
        page.mouse.wheel(0, 800)
        page.wait_for_timeout(50)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_load_state("networkidle")


def test_a_card_with_its_first_page_and_stars_then_a_page_with_models_and_a_summary(
    browser, site: Site, viewport: Viewport
) -> None:
    with Journey(browser, "enrichment", viewport) as journey:
        page = journey.page
        page.goto(f"{site.url}/papers/date/{site.day}", wait_until="load")
        card = page.locator("li.card", has=page.locator(f'h3 a[href="/papers/{site.paper}"]'))
        card.scroll_into_view_if_needed()
        image = card.locator(".card-thumb img")
        image.wait_for()
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        assert "4,321" in card.locator(".stars").inner_text()
        scroll_through(page)
        day_shift = journey.layout_shift()
        assert day_shift <= CLS_GOOD, f"the day page shifted by {day_shift:.3f}"
        journey.fits()
        card.scroll_into_view_if_needed()
        journey.shot("card-with-thumbnail-and-stars")

        card.locator("h3 a").click()
        page.wait_for_url(f"**/papers/{site.paper}")
        page.wait_for_load_state("networkidle")
        hub = page.locator("section.hub-links")
        assert MODEL in hub.inner_text()
        assert "321" in hub.inner_text()
        summary = page.locator("section.summary-block")
        assert "Machine-written summary" in summary.inner_text()
        assert "test-model-1" in summary.locator(".summary-model").inner_text()
        assert summary.locator(".summary-text").inner_text().strip()
        scroll_through(page)
        paper_shift = journey.layout_shift()
        assert paper_shift <= CLS_GOOD, f"the paper page shifted by {paper_shift:.3f}"
        journey.fits()
        journey.shot("paper-with-models-and-summary")


def test_the_official_client_reads_what_the_page_shows(site: Site) -> None:
    info = HfApi(endpoint=site.url).paper_info(site.arxiv_id)
    assert (info.github_repo, info.github_stars) == (f"https://github.com/{REPO}", 4321)
    assert info.linked_models is not None and info.linked_models[0].id == MODEL
    assert info.num_total_models == 1
    assert info.ai_summary
    assert info.__dict__.get("thumbnailUrl", "").startswith("http")
