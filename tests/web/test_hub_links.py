"""The models, datasets and Spaces citing a paper: the paper page's "On the Hub" section
and `paper_info`'s linked fields, read back with the official client; both from what the
`hub` job stored, so a Hub that is down changes neither."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from huggingface_hub import DatasetInfo, HfApi, ModelInfo, SpaceInfo
from sqlalchemy import select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.hub_links import (
    COUNT_CAP,
    HubClient,
    HubUnavailable,
    due_papers,
    load_hub,
    update_hub,
)
from paperfeed.models import Paper
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.search.indexing import run_index
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.hub_server import FakeHub, running_hub
from tests.papers.test_related import counted
from tests.web.live import start_server

FEED_AT = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    with running_hub() as hub:
        yield hub


def seed(db: Database) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title="Cited", abstract="A.", arxiv_id="2611.20001", feed_at=FEED_AT),
                PaperRecord(title="Quiet", abstract="B.", arxiv_id="2611.20002", feed_at=FEED_AT),
                PaperRecord(title="Never asked", abstract="C.", feed_at=FEED_AT),
            ],
        )


def stock(hub: FakeHub) -> None:
    for i in range(12):
        hub.add("model", f"acme/model-{i}", likes=100 + i, downloads=5000 + i, arxiv="2611.20001")
    hub.add("model", "acme/<b>odd</b>", likes=10_000, arxiv="2611.20001")  # no valid id: dropped
    hub.add("dataset", "acme/corpus", likes=7, downloads=1_234_567, arxiv="2611.20001")
    hub.add("space", "acme/demo", likes=3, arxiv="2611.20001", extra="gradio")


@pytest.fixture
def site_settings(db: Database, tmp_path: Path, fake_hub: FakeHub) -> Settings:
    seed(db)
    stock(fake_hub)
    settings = make_settings(tmp_path, db.url).model_copy(
        update={"hub_endpoint": fake_hub.url, "hub_request_interval": 0.0}
    )
    with HubClient.from_settings(settings) as client:
        update_hub(db, settings, client)
    run_index(db, settings, embed=False)
    return settings


@pytest.fixture
def client(db: Database, site_settings: Settings) -> TestClient:
    return TestClient(create_app(site_settings, db))


def section(html: str) -> str:
    return html.split('class="hub-links"')[1].split("</section>")[0]


def test_the_paper_page_shows_the_top_ones_with_likes_downloads_and_counts(
    client: TestClient, fake_hub: FakeHub
) -> None:
    html = client.get("/papers/2611.20001").text
    hub = section(html)
    assert "On the Hub" in hub
    assert "Models citing this paper" in hub and "(12)" in hub
    models = hub.split('id="hub-models"')[1].split("</ul>")[0]
    assert models.count("<li>") == 10  # the ten most liked of twelve
    first = models.split("<li>")[1]
    assert f'href="{fake_hub.url}/acme/model-11"' in first
    assert "111 likes" in first and "5,011 downloads" in first and "text-generation" in first
    assert "acme/model-0<" not in models and "acme/model-1<" not in models  # the least liked
    assert "odd" not in html  # remote data with an id the Hub never gives is left out
    assert "The 10 most liked of 12" in hub
    assert f'href="{fake_hub.url}/papers/2611.20001"' in hub
    assert f'href="{fake_hub.url}/datasets/acme/corpus"' in hub
    assert "1,234,567 downloads" in hub and "7 likes" in hub
    spaces = hub.split('id="hub-spaces"')[1]
    assert f'href="{fake_hub.url}/spaces/acme/demo"' in spaces
    assert "3 likes" in spaces and "gradio" in spaces and "download" not in spaces


def test_the_section_is_left_out_when_there_is_nothing_to_show(client: TestClient) -> None:
    quiet = client.get("/papers/2611.20002")  # asked: nothing cites it
    assert quiet.status_code == 200 and "hub-links" not in quiet.text
    assert "On the Hub" not in quiet.text


def test_a_paper_without_an_arxiv_id_has_no_section(client: TestClient, db: Database) -> None:
    with db.reader() as session:
        local = session.scalars(select(Paper).where(Paper.arxiv_id.is_(None))).one()
    page = client.get(f"/papers/{local.public_id}")
    assert page.status_code == 200 and "hub-links" not in page.text


def test_the_sample_listings_without_arxiv_ids_leave_the_section_out(
    sample_db: Database, tmp_path: Path
) -> None:
    with sample_db.reader() as session:
        local = list(session.scalars(select(Paper).where(Paper.arxiv_id.is_(None))))
    assert len(local) == 368
    settings = make_settings(tmp_path, sample_db.url)
    due = {pid for pid, _ in due_papers(sample_db, settings, 10_000)}
    assert len(due) == 200 and not due & {p.id for p in local}  # never asked about
    site = TestClient(create_app(settings, sample_db))
    for paper in local[:3]:
        page = site.get(f"/papers/{paper.public_id}")
        assert page.status_code == 200 and "hub-links" not in page.text


def test_the_section_loads_in_a_fixed_number_of_queries(
    db: Database, site_settings: Settings
) -> None:
    with db.reader() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2611.20001")).one()
        with counted(db) as statements:
            links = load_hub(session, paper)
    assert links is not None and links.counts == {"model": 12, "dataset": 1, "space": 1}
    assert len(statements) == 2


def test_the_page_still_renders_when_the_hub_is_down(
    db: Database, client: TestClient, site_settings: Settings, fake_hub: FakeHub
) -> None:
    before = section(client.get("/papers/2611.20001").text)
    fake_hub.down = True
    later = clock.now() + timedelta(hours=site_settings.hub_refresh_hours + 1)
    with (
        clock.frozen(later),
        HubClient.from_settings(site_settings, max_retries=0) as hub,
        pytest.raises(HubUnavailable),
    ):
        update_hub(db, site_settings, hub)
    with clock.frozen(later):
        page = client.get("/papers/2611.20001")
    assert page.status_code == 200 and section(page.text) == before


def test_a_count_at_the_cap_says_so(
    db: Database, client: TestClient, site_settings: Settings, fake_hub: FakeHub
) -> None:
    for i in range(COUNT_CAP + 5):
        fake_hub.add("model", f"many/m{i}", likes=i, arxiv="2611.20002")
    later = clock.now() + timedelta(hours=site_settings.hub_refresh_hours + 1)
    with clock.frozen(later), HubClient.from_settings(site_settings) as hub:
        update_hub(db, site_settings, hub)
        hub_html = section(client.get("/papers/2611.20002").text)
    assert "(1,000+)" in hub_html and "or more (counted up to 1,000)" in hub_html


@pytest.fixture
def live(db: Database, site_settings: Settings) -> Iterator[str]:
    server = start_server(create_app(site_settings, db))
    yield server.url
    server.stop()


def test_hf_client_paper_info_returns_the_linked_fields(live: str) -> None:
    api = HfApi(endpoint=live, token=False)
    info = api.paper_info("2611.20001")
    assert info.num_total_models == 12 and info.num_total_datasets == 1
    assert info.numTotalSpaces == 1  # type: ignore[attr-defined]  # kept as sent by the client
    assert info.linked_models is not None and len(info.linked_models) == 10
    top = info.linked_models[0]
    assert isinstance(top, ModelInfo)
    assert (top.id, top.author, top.likes, top.downloads) == ("acme/model-11", "acme", 111, 5011)
    assert top.pipeline_tag == "text-generation" and top.last_modified is not None
    assert [m.likes for m in info.linked_models] == sorted(
        (m.likes for m in info.linked_models), reverse=True
    )
    [dataset] = info.linked_datasets or []
    assert isinstance(dataset, DatasetInfo)
    assert (dataset.id, dataset.likes, dataset.downloads) == ("acme/corpus", 7, 1_234_567)
    [space] = info.linked_spaces or []
    assert isinstance(space, SpaceInfo)
    assert (space.id, space.likes, space.sdk) == ("acme/demo", 3, "gradio")
    # Asked, nothing cites it: empty lists and zeros.
    quiet = api.paper_info("2611.20002")
    assert (quiet.linked_models, quiet.num_total_models) == ([], 0)
    assert (quiet.linked_spaces, quiet.num_total_datasets) == ([], 0)
    # Never asked (or no arXiv id): the fields are left out, and the client says None.
    local = next(p for p in api.list_daily_papers(date="2026-11-19") if p.id.startswith("pf-"))
    never = api.paper_info(local.id)
    assert (never.linked_models, never.num_total_models, never.linked_spaces) == (None, None, None)


def test_new_hub_answers_change_the_etag_without_reindexing(
    db: Database, client: TestClient, site_settings: Settings, fake_hub: FakeHub
) -> None:
    from paperfeed.papers.store import current_change_seq

    first = client.get("/papers/2611.20002")
    api_first = client.get("/api/papers/2611.20002")
    assert "hub-links" not in first.text and api_first.json()["numTotalSpaces"] == 0
    with db.reader() as session:
        before = current_change_seq(session)[0]
    fake_hub.add("space", "acme/new-demo", likes=1, arxiv="2611.20002", extra="static")
    later = clock.now() + timedelta(hours=site_settings.hub_refresh_hours + 1)
    with clock.frozen(later), HubClient.from_settings(site_settings) as hub:
        update_hub(db, site_settings, hub)
        second = client.get("/papers/2611.20002", headers={"if-none-match": first.headers["etag"]})
        api = client.get(
            "/api/papers/2611.20002", headers={"if-none-match": api_first.headers["etag"]}
        )
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
    assert "acme/new-demo" in section(second.text)
    assert api.status_code == 200 and api.json()["linkedSpaces"][0]["id"] == "acme/new-demo"
    with db.reader() as session:
        assert current_change_seq(session)[0] == before  # no paper changed: nothing re-indexed
