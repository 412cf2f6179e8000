"""Two live nodes on one PostgreSQL database, as behind a load balancer: a session started
on one works and ends on the other, and login failures count against one shared limit.

Each node has its own app and its own engine; the browser is a single client, and since
cookies do not depend on the port, it carries the same cookies to both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paperfeed.community import accounts
from paperfeed.community.limits import LOGIN
from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS
from tests.web.live import LiveServer, start_server

PASSWORD = "long enough password"
pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def nodes(db: Database, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    with db.transaction() as session:
        accounts.create_user(session, "reader", "r@example.org", PASSWORD, verified=True)
    engines = [Database(db.url), Database(db.url)]
    servers: list[LiveServer] = []
    try:
        for n, engine in enumerate(engines):
            data_dir = tmp_path / f"node{n}"
            data_dir.mkdir()
            servers.append(start_server(create_app(make_settings(data_dir, db.url), engine)))
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        for engine in engines:
            engine.dispose()


def csrf(page: httpx.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_a_session_from_one_node_works_and_ends_on_the_other(
    nodes: tuple[LiveServer, LiveServer],
) -> None:
    a, b = nodes
    with httpx.Client(headers=BROWSER_HEADERS, timeout=20) as browser:
        token = csrf(browser.get(f"{a.url}/login"))
        login = browser.post(
            f"{a.url}/login", data={"csrf": token, "login": "reader", "password": PASSWORD}
        )
        assert login.status_code == 303
        cookie = browser.cookies["pf_session"]
        on_b = browser.get(f"{b.url}/account")
        assert on_b.status_code == 200 and "reader" in on_b.text
        assert browser.get(f"{a.url}/account").status_code == 200
        logout = browser.post(f"{b.url}/logout", data={"csrf": csrf(on_b)})
        assert logout.status_code == 303
    # Even a browser that kept the old cookie is signed out on the node it did not log out on.
    with httpx.Client(headers=BROWSER_HEADERS, cookies={"pf_session": cookie}) as kept:
        stale = kept.get(f"{a.url}/account")
        assert stale.status_code == 303
        assert stale.headers["location"] == "/login?next=/account"


def test_login_failures_on_both_nodes_count_against_one_limit(
    nodes: tuple[LiveServer, LiveServer],
) -> None:
    a, b = nodes
    with httpx.Client(headers=BROWSER_HEADERS, timeout=20) as browser:
        token = csrf(browser.get(f"{a.url}/login"))
        failures = [
            browser.post(
                f"{node.url}/login",
                data={"csrf": token, "login": "reader", "password": "not the password"},
            ).status_code
            for node in [a, b] * (LOGIN.count // 2)
        ]
        assert failures == [400] * LOGIN.count  # half on each node: neither alone is over
        for node in (a, b):
            refused = browser.post(
                f"{node.url}/login", data={"csrf": token, "login": "reader", "password": PASSWORD}
            )
            assert refused.status_code == 429, node.url
            assert "Too many attempts" in refused.text
            assert int(refused.headers["retry-after"]) > 0
