"""A live node whose PostgreSQL goes away: 503 with Retry-After, never a 500, and service
again on its own once the database is back.

The database here is a throwaway cluster this module starts, stops and removes itself.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from paperfeed import clock
from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.web.app import create_app
from paperfeed.web.outage import RETRY_AFTER_SECONDS, UNAVAILABLE
from tests.conftest import FIXED_NOW, make_settings
from tests.web.conftest import BROWSER_HEADERS
from tests.web.live import LiveServer, start_server
from tests.web.pgcluster import ThrowawayCluster, make_cluster

PASSWORD = "long enough password"
PAGES = ["/", "/papers/trending", "/papers/0704.0001", "/papers/date/2026-11-18"]
API = ["/api/daily_papers", "/api/papers/0704.0001"]
RECOVERY_SECONDS = 30


@dataclass
class Site:
    cluster: ThrowawayCluster
    live: LiveServer
    db: Database


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    cluster = make_cluster()
    try:
        url = cluster.create_database("paperfeed")
        db = Database(url)
        db.upgrade()
        settings = make_settings(tmp_path_factory.mktemp("outage"), url)
        with clock.frozen(FIXED_NOW):
            load_demo(db, settings.tz)
            with db.transaction() as session:
                accounts.create_user(session, "reader", "r@example.org", PASSWORD, verified=True)
        live = start_server(create_app(settings, db))
        try:
            yield Site(cluster, live, db)
        finally:
            live.stop()
            db.dispose()
    finally:
        cluster.destroy()


@pytest.fixture
def running(site: Site) -> Iterator[Site]:
    """The site with its database up, before and after the test (whatever the test did)."""
    if not site.cluster.running():
        site.cluster.start()
    yield site
    if not site.cluster.running():
        site.cluster.start()


def signed_in(base: str) -> tuple[httpx.Client, str]:
    """A browser signed in as `reader`, and the CSRF token of its pages."""
    client = httpx.Client(base_url=base, headers=BROWSER_HEADERS, timeout=20)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = client.post("/login", data={"csrf": token, "login": "reader", "password": PASSWORD})
    assert done.status_code == 303, done.text
    paper = client.get("/papers/0704.0001")
    assert "Log out" in paper.text
    return client, re.search(r'name="csrf" value="([^"]+)"', paper.text).group(1)


def assert_unavailable_page(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.request.url, response.text[:300])
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert response.headers["content-type"].startswith("text/html")
    assert UNAVAILABLE in response.text
    assert "Temporarily unavailable" in response.text
    assert "Traceback" not in response.text


def assert_unavailable_json(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.request.url, response.text[:300])
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert response.json() == {"error": UNAVAILABLE}


def wait_until_serving(client: httpx.Client, path: str = "/") -> float:
    """Seconds until `path` answers 200 again; fails after RECOVERY_SECONDS."""
    started = time.monotonic()
    while True:
        status = client.get(path).status_code
        if status == 200:
            return time.monotonic() - started
        assert status == 503, f"{path} answered {status} while the database came back"
        assert time.monotonic() - started < RECOVERY_SECONDS, "the node did not recover"
        time.sleep(0.2)


def test_a_database_outage_answers_503_and_the_node_recovers_without_restart(
    running: Site,
) -> None:
    base = running.live.url
    visitor = httpx.Client(base_url=base, headers=BROWSER_HEADERS, timeout=20)
    api = httpx.Client(base_url=base, timeout=20)
    reader, token = signed_in(base)
    for path in PAGES:
        assert visitor.get(path).status_code == 200, path
    for path in API:
        assert api.get(path).status_code == 200, path
    assert visitor.get("/readyz").status_code == 200

    running.cluster.stop("fast")

    for path in PAGES:
        assert_unavailable_page(visitor.get(path))
    for path in API:
        assert_unavailable_json(api.get(path))
    # Clients that ask for JSON outside /api/ get JSON too, as with every other error.
    assert_unavailable_json(visitor.get("/", headers={"accept": "application/json"}))
    # A signed-in browser: looking up its session needs the database as well.
    assert_unavailable_page(reader.get("/account"))
    assert_unavailable_page(
        reader.post("/papers/0704.0001/upvote", data={"csrf": token, "vote": "1"})
    )
    # Liveness holds (the process is fine); readiness does not.
    assert visitor.get("/healthz").status_code == 200
    not_ready = visitor.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.text == UNAVAILABLE
    assert not_ready.headers["retry-after"] == str(RETRY_AFTER_SECONDS)

    running.cluster.start()

    wait_until_serving(visitor)
    for path in PAGES:
        assert visitor.get(path).status_code == 200, path
    for path in API:
        assert api.get(path).status_code == 200, path
    assert visitor.get("/readyz").text == "ready"
    # The session outlived the outage, and writes work again.
    assert "Log out" in reader.get("/account").text
    vote = reader.post(
        "/papers/0704.0001/upvote",
        data={"csrf": token, "vote": "1"},
        headers={"accept": "application/json"},
    )
    assert vote.status_code == 200 and vote.json()["upvoted"] is True
    for client in (visitor, api, reader):
        client.close()


def test_requests_in_flight_when_the_server_dies_get_200_or_503_never_500(
    running: Site,
) -> None:
    base = running.live.url
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def browse(paths: list[str], headers: dict[str, str]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=20) as client:
            n = 0
            while not stop.is_set():
                try:
                    statuses[client.get(paths[n % len(paths)]).status_code] += 1
                except httpx.HTTPError as exc:  # the node must answer every request
                    failures.append(f"{paths[n % len(paths)]}: {exc!r}")
                n += 1

    threads = [
        threading.Thread(target=browse, args=(PAGES, BROWSER_HEADERS)),
        threading.Thread(target=browse, args=(PAGES[::-1], BROWSER_HEADERS)),
        threading.Thread(target=browse, args=(API, {})),
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        running.cluster.stop("immediate")  # backends die mid-query, no goodbye
        time.sleep(1.0)
        running.cluster.start()
        with httpx.Client(base_url=base, headers=BROWSER_HEADERS, timeout=20) as client:
            wait_until_serving(client)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[200] > 0 and statuses[503] > 0, statuses


def test_connections_killed_behind_the_nodes_back_are_replaced_unnoticed(
    running: Site,
) -> None:
    """A failover or a restarted pooler kills open connections; the next request still works."""
    with httpx.Client(base_url=running.live.url, headers=BROWSER_HEADERS, timeout=20) as client:
        assert client.get("/").status_code == 200
        killer = Database(running.db.url)
        with killer.engine.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        killer.dispose()
        assert killed >= 1
        for path in PAGES:
            assert client.get(path).status_code == 200, path


def test_a_query_bug_stays_a_500_and_is_not_passed_off_as_an_outage(tmp_path: Path) -> None:
    """SQLite reports a missing table as an operational error; that is a bug, not an outage."""
    unmigrated = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    app = create_app(make_settings(tmp_path, unmigrated.url), unmigrated)
    with TestClient(app, raise_server_exceptions=False, headers=BROWSER_HEADERS) as client:
        response = client.get("/papers/trending")
        assert response.status_code == 500
        assert "retry-after" not in response.headers
        assert client.get("/readyz").status_code == 200  # the database itself answers
    unmigrated.dispose()


def test_a_sqlite_file_that_cannot_be_opened_is_an_outage(tmp_path: Path) -> None:
    (tmp_path / "site.sqlite3").mkdir()  # a directory where the database file should be
    broken = Database(f"sqlite:///{tmp_path / 'site.sqlite3'}")
    app = create_app(make_settings(tmp_path, broken.url), broken)
    with TestClient(app, headers=BROWSER_HEADERS) as client:
        assert_unavailable_page(client.get("/"))
        assert_unavailable_json(client.get("/api/daily_papers"))
        assert client.get("/readyz").status_code == 503
        assert client.head("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
    broken.dispose()
