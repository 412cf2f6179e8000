"""The demo banner: on every page of a demo site until the visitor dismisses it."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

BANNER = 'class="demo-banner"'
PAGES = ["/", "/papers/trending", "/papers/0704.0001", "/papers/calendar/2026-11", "/login"]


def site(db: Database, tmp_path: Path, demo: bool) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        # Set after start-up, which reads it from the database.
        app.state.templates.env.globals["demo_site"] = demo
        yield client


@pytest.fixture
def demo(sample_db: Database, tmp_path: Path) -> Iterator[TestClient]:
    yield from site(sample_db, tmp_path, demo=True)


@pytest.fixture
def not_demo(sample_db: Database, tmp_path: Path) -> Iterator[TestClient]:
    yield from site(sample_db, tmp_path, demo=False)


def dismiss(client: TestClient, next_path: str = "/papers/trending", **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/demo/banner/dismiss", data={"next": next_path}, headers=headers)


@pytest.mark.parametrize("path", [*PAGES, "/papers/9999.99999"])
def test_every_page_of_a_demo_says_so(demo: TestClient, path: str) -> None:
    html = demo.get(path).text
    assert BANNER in html
    banner = html.split(BANNER)[1].split("</section>")[0]
    assert "This is a demo site" in banner and 'href="/demo/outbox"' in banner
    assert "demo-admin" in banner and "demo-member" in banner
    assert 'action="/demo/banner/dismiss"' in banner


def test_other_sites_have_no_banner(not_demo: TestClient) -> None:
    for path in PAGES:
        assert BANNER not in not_demo.get(path).text


def test_dismissing_sets_a_cookie_and_goes_back(demo: TestClient) -> None:
    response = dismiss(demo, "/papers/trending?p=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/papers/trending?p=2"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("pf_demo_banner=hidden;")
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=31536000" in cookie
    for path in PAGES:
        assert BANNER not in demo.get(path).text, path


def test_dismissing_never_leaves_the_site(demo: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", ""):
        response = dismiss(demo, target)
        assert response.status_code == 303
        assert response.headers["location"] == "/", target


def test_dismissing_works_from_a_page_with_a_long_address(demo: TestClient) -> None:
    # A search for 300 CJK characters: the page's own address, as its banner form sends
    # it, is 2,710 characters long once percent-encoded.
    search = "/papers?q=" + "%E4%B8%AD" * 300
    form = demo.get(search).text.split('action="/demo/banner/dismiss"')[1]
    sent = re.search(r'name="next" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    assert len(sent) > 2000
    response = dismiss(demo, sent)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert response.headers["set-cookie"].startswith("pf_demo_banner=hidden;")


def test_a_dismissal_sent_from_another_site_is_refused(demo: TestClient) -> None:
    for headers in (
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
    ):
        response = dismiss(demo, **headers)
        assert response.status_code == 403, headers
        assert "set-cookie" not in response.headers
    assert BANNER in demo.get("/").text
    assert dismiss(demo, **{"sec-fetch-site": "same-origin"}).status_code == 303


def test_a_cached_page_with_the_banner_is_not_revalidated_without_it(demo: TestClient) -> None:
    shown = demo.get("/papers/trending")
    assert BANNER in shown.text and shown.headers["cache-control"].startswith("public")
    etag = shown.headers["etag"]
    assert demo.get("/papers/trending", headers={"if-none-match": etag}).status_code == 304
    dismiss(demo)
    after = demo.get("/papers/trending", headers={"if-none-match": etag})
    assert after.status_code == 200 and BANNER not in after.text
    assert after.headers["etag"] != etag
