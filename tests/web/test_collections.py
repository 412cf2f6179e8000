"""Collection pages, forms and exports: create, save from a card, notes, order, privacy,
the secret feed and its replacement, every export format, and what is cached how."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.api.conftest import PASSWORD, World, build_world
from tests.web.conftest import BROWSER_HEADERS

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    return build_world(db, make_settings(tmp_path, db.url))


def browser(world: World) -> TestClient:
    return TestClient(
        create_app(world.settings, world.db), follow_redirects=False, headers=BROWSER_HEADERS
    )


def sign_in(client: TestClient, name: str) -> str:
    page = client.get("/login")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"csrf": token, "login": name, "password": PASSWORD})
    return CSRF.search(client.get("/collections").text).group(1)  # type: ignore[union-attr]


@pytest.fixture
def ada(world: World) -> Iterator[tuple[TestClient, str]]:
    with browser(world) as client:
        yield client, sign_in(client, "ada")


def create(client: TestClient, token: str, title: str, visibility: str = "private") -> str:
    made = client.post(
        "/collections", data={"csrf": token, "title": title, "visibility": visibility}
    )
    assert made.status_code == 303, made.text
    return made.headers["location"].split("?")[0]


def test_saving_from_a_card_makes_saved_and_a_second_press_takes_it_out(
    ada: tuple[TestClient, str],
) -> None:
    client, token = ada
    feed = client.get("/papers/date/2026-11-19")
    assert 'action="/collections/save"' in feed.text and ">Save<" in feed.text
    saved = client.post(
        "/collections/save",
        data={"csrf": token, "paper": "2611.00002", "next": "/papers/date/2026-11-19"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/papers/date/2026-11-19"
    mine = client.get("/collections")
    assert mine.headers["cache-control"] == "private, no-store"
    path = re.search(r'href="(/collections/ada/saved-[0-9a-f]{24})"', mine.text).group(1)  # type: ignore[union-attr]
    page = client.get(path)
    assert page.status_code == 200 and "Sparse Mixtures of Small Experts" in page.text
    assert ">Saved<" in client.get("/papers/date/2026-11-19").text
    # The script's way: JSON back, no reload.
    undone = client.post(
        "/collections/save",
        data={"csrf": token, "paper": "2611.00002", "saved": "0"},
        headers={"accept": "application/json"},
    )
    assert undone.json() == {"saved": False, "collection": "Saved"}
    assert "Sparse Mixtures" not in client.get(path).text
    forged = client.post("/collections/save", data={"csrf": "wrong", "paper": "2611.00002"})
    assert forged.status_code == 403


def test_a_private_collection_is_only_for_its_owner_and_its_secret_feed(
    ada: tuple[TestClient, str], world: World
) -> None:
    client, token = ada
    path = create(client, token, "Reading group")
    assert path.startswith("/collections/ada/reading-group-")
    added = client.post(
        path + "/items", data={"csrf": token, "paper": "arXiv:2611.00001v2", "note": "Sec. 3"}
    )
    assert added.status_code == 303
    page = client.get(path)
    assert "Attention Is Still All You Need" in page.text and 'value="Sec. 3"' in page.text
    assert page.headers["cache-control"] == "private, no-cache"
    with browser(world) as visitor:
        assert visitor.get(path).status_code == 404
        assert visitor.get(path + ".rss").status_code == 404
    with browser(world) as grace:
        sign_in(grace, "grace")
        assert grace.get(path).status_code == 404

    made = client.post(path + "/feed-secret", data={"csrf": token})
    assert made.status_code == 303
    first = re.search(r"/feeds/collections/[\w-]+\.rss", client.get(path).text).group(0)  # type: ignore[union-attr]
    with browser(world) as reader:
        feed = reader.get(first)
        assert feed.status_code == 200 and feed.headers["cache-control"] == "private, no-store"
        items = ET.fromstring(feed.content).findall("./channel/item")
        assert [i.findtext("title") for i in items] == ["Attention Is Still All You Need"]
        client.post(path + "/feed-secret", data={"csrf": token})
        second = re.search(r"/feeds/collections/[\w-]+\.rss", client.get(path).text).group(0)  # type: ignore[union-attr]
        assert second != first
        assert reader.get(first).status_code == 404
        assert reader.get(second).status_code == 200


def test_notes_order_rename_and_delete_by_form(ada: tuple[TestClient, str], world: World) -> None:
    client, token = ada
    path = create(client, token, "Order", "public")
    for paper in ("2611.00001", "2611.00002", "2610.00003"):
        client.post(path + "/items", data={"csrf": token, "paper": paper})
    keys = re.findall(r'id="item-([0-9a-f]{24})"', client.get(path).text)
    assert len(keys) == 3
    client.post(f"{path}/items/{keys[2]}", data={"csrf": token, "action": "up"})
    client.post(f"{path}/items/{keys[0]}", data={"csrf": token, "action": "note", "note": "Hi"})
    client.post(f"{path}/items/{keys[1]}", data={"csrf": token, "action": "remove"})
    with browser(world) as visitor:
        shown = visitor.get(path)
        assert shown.status_code == 200
        titles = re.findall(r'<a href="/papers/([^"]+)">', shown.text)
        assert titles[:2] == ["2611.00001", "2610.00003"]
        assert '<p class="collection-note">Hi</p>' in shown.text
        assert "Save note" not in shown.text  # the owner's forms only for the owner
    renamed = client.post(path + "/edit", data={"csrf": token, "title": "Ordered"})
    new_path = renamed.headers["location"].split("?")[0]
    assert new_path.endswith(path.rsplit("-", 1)[1]) and "ordered-" in new_path
    assert client.get(path).status_code == 301  # the old address leads to the new one
    with browser(world) as grace:
        grace_token = sign_in(grace, "grace")
        refused = grace.post(new_path + "/delete", data={"csrf": grace_token})
        assert refused.status_code == 403
    assert client.post(new_path + "/delete", data={"csrf": token}).status_code == 303
    assert client.get(new_path).status_code == 404


def test_every_export_of_a_public_collection(ada: tuple[TestClient, str], world: World) -> None:
    client, token = ada
    path = create(client, token, "Exports", "public")
    client.post(path + "/items", data={"csrf": token, "paper": "2611.00002"})
    client.post(path + "/items", data={"csrf": token, "paper": "2611.00001", "note": "=1+1"})
    with browser(world) as visitor:
        bib = visitor.get(path + ".bib")
        assert (
            bib.status_code == 200 and bib.text.count("@misc{") + bib.text.count("@article{") == 2
        )
        md = visitor.get(path + ".md").text
        assert md.startswith("# Exports\n") and "1. [Sparse Mixtures" in md and "> =1+1" in md
        rows = list(csv.DictReader(io.StringIO(visitor.get(path + ".csv").text)))
        assert [r["id"] for r in rows] == ["2611.00002", "2611.00001"]
        assert rows[1]["note"] == "'=1+1"  # a formula is quoted for spreadsheets
        lines = visitor.get(path + ".jsonl").text.splitlines()
        assert [json.loads(line)["note"] for line in lines] == ["", "=1+1"]
        atom = visitor.get(path + ".atom")
        assert atom.status_code == 200 and atom.headers["cache-control"] == "private, no-cache"
        entries = ET.fromstring(atom.content).findall("{http://www.w3.org/2005/Atom}entry")
        assert len(entries) == 2
        assert visitor.get(path + ".pdf").status_code == 404
