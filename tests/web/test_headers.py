"""Security headers on every kind of response: pages, feeds, the API, static files, errors
(404, 400, 405, 413, 500), redirects; HSTS only on an https site; a route's own policy kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.web import headers
from paperfeed.web.app import create_app
from paperfeed.web.routes import (
    accounts,
    admin,
    api_docs,
    comments,
    digest,
    downloads,
    orgs,
    pages,
    search,
)
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS
from tests.web.site_tour import TOUR

EXPECTED = {
    "content-security-policy": headers.PAGE_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}
REFERRER_POLICIES = ("same-origin", "no-referrer")  # no-referrer: pages with tokens in URLs
# Routes that scope another policy to themselves, and the one they send.
SCOPED = {"/api/docs": headers.DOCS_POLICY}


def assert_secured(response, policy: str = headers.PAGE_POLICY) -> None:  # type: ignore[no-untyped-def]
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    for name, value in {**EXPECTED, "content-security-policy": policy}.items():
        assert response.headers.get_list(name) == [value], f"{where}: {name}"
    assert response.headers.get("referrer-policy") in REFERRER_POLICIES, where
    assert "strict-transport-security" not in response.headers, where


def test_the_page_policy_allows_nothing_inline_and_nothing_foreign() -> None:
    directives = dict(part.split(" ", 1) for part in headers.PAGE_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert all(value in ("'self'", "'none'") for value in directives.values()), directives


def test_every_page_on_the_tour_sends_the_headers(client: TestClient) -> None:
    for stop in TOUR:  # anonymously: pages for members answer with a redirect to log in
        assert_secured(client.get(stop.path))


def get_paths_without_parameters(app: FastAPI) -> list[str]:
    """Every GET path with no parameter: the page routers' routes and the API's schema."""
    routers = [accounts, admin, api_docs, comments, digest, downloads, orgs, pages, search]
    paths = [
        route.path
        for module in routers
        for route in module.router.routes
        if isinstance(route, APIRoute) and "GET" in route.methods and "{" not in route.path
    ]
    schema = app.openapi()["paths"]
    return paths + [path for path, ops in schema.items() if "get" in ops and "{" not in path]


def test_every_get_route_without_parameters_sends_them(client: TestClient) -> None:
    paths = get_paths_without_parameters(client.app)  # type: ignore[arg-type]
    assert len(paths) > 30 and "/api/docs" in paths and "/api/papers" in paths
    for path in paths:
        response = client.get(path)
        assert response.status_code < 500, path
        assert_secured(response, SCOPED.get(path, headers.PAGE_POLICY))


@pytest.mark.parametrize(
    "path",
    [
        "/papers/trending.rss",
        "/papers/0704.0002.bib",
        "/api/papers?limit=2",
        "/api/papers/9999.99999",
        "/static/style.css",
        "/static/app.js",
        "/static/missing.css",
        "/api/docs/swagger-ui-bundle.js",
        "/papers?sort=sideways",
        "/account",
    ],
)
def test_feeds_api_static_files_errors_and_redirects_send_them(
    client: TestClient, path: str
) -> None:
    assert_secured(client.get(path))


def test_a_conditional_request_a_wrong_method_and_a_huge_body_send_them(
    client: TestClient,
) -> None:
    first = client.get("/papers/trending")
    again = client.get("/papers/trending", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert_secured(again)
    assert_secured(client.delete("/papers/trending"))
    huge = client.post("/login", content=b"x" * 3_000_000, headers={"content-type": "text/plain"})
    assert huge.status_code == 413
    assert_secured(huge)


@pytest.fixture
def failing_app(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, db.url), db)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False, headers=BROWSER_HEADERS) as client:
        yield client


def test_the_page_for_an_unexpected_error_sends_them(failing_app: TestClient) -> None:
    response = failing_app.get("/boom")
    assert response.status_code == 500 and "went wrong" in response.text
    assert_secured(response)


def test_hsts_only_when_the_site_address_is_https(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, db.url)
    settings.site_url = "https://papers.example.org"
    with TestClient(create_app(settings, db), base_url="https://papers.example.org") as client:
        for path in ("/", "/static/style.css", "/api/papers", "/nope"):
            response = client.get(path)
            assert response.headers["strict-transport-security"] == headers.HSTS, path
            assert "includeSubDomains" in response.headers["strict-transport-security"]


def test_the_api_docs_are_served_from_the_site_under_their_own_policy(
    client: TestClient,
) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert_secured(page, headers.DOCS_POLICY)
    assert "http" not in page.text  # every asset by path: no CDN, no other origin
    assert "<script>" not in page.text and "style=" not in page.text
    for asset in ("/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-ui.css"):
        assert f'"{asset}?v=' in page.text
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 100_000, asset
    assert client.get("/api/docs/../../config.py").status_code == 404
    assert client.get("/api/docs/favicon.png").status_code == 404  # only the two files


def test_no_page_template_carries_inline_script_or_style() -> None:
    templates = Path(__file__).parents[2] / "src" / "paperfeed" / "web" / "templates"
    for template in templates.glob("*.html"):  # not email/: emails are styled inline
        text = template.read_text()
        assert "style=" not in text and "<style" not in text, template.name
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template.name}: event handler"
        for tag in text.split("<script")[1:]:
            assert tag.lstrip().startswith("src="), f"{template.name}: inline script"


def test_a_formula_that_would_need_a_style_attribute_is_shown_as_its_source() -> None:
    from paperfeed.latex import render

    html = str(render(r"$\style{color:red}{x}$ and $x^2$"))
    assert "style=" not in html  # the policy would block it (no 'unsafe-inline')
    assert '<span class="tex-source">$\\style{color:red}{x}$</span>' in html
    assert "<math" in html  # the plain formula still renders
