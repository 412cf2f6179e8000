"""The official `huggingface_hub` client, unchanged, against a live server's collections:
create, get, list, change, add, note, move, remove and delete, on both backends, with the
rules that hold for its users (private ones hidden, only the owner writes)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from paperfeed.web.app import create_app
from tests.web.api.conftest import World
from tests.web.live import LiveServer, start_server


@pytest.fixture
def live(world: World) -> Iterator[LiveServer]:
    server = start_server(create_app(world.settings, world.db))
    yield server
    server.stop()


def hub(server: LiveServer, token: str | bool = False) -> HfApi:
    return HfApi(endpoint=server.url, token=token)


def status_of(call) -> int:  # type: ignore[no-untyped-def]  # any client method
    with pytest.raises(HfHubHTTPError) as refused:
        call()
    return refused.value.response.status_code


def test_a_collection_round_trip_with_the_official_client(live: LiveServer, world: World) -> None:
    ada = hub(live, world.token)
    made = ada.create_collection("Reading group", description="Fridays", private=False)
    assert made.slug.startswith("ada/reading-group-") and len(made.slug.rsplit("-")[-1]) == 24
    assert made.owner["name"] == "ada" and made.items == [] and made.private is False
    assert made.url == f"{live.url}/collections/{made.slug}"

    ada.add_collection_item(made.slug, "2611.00002", item_type="paper")
    after = ada.add_collection_item(
        made.slug, "2611.00001v2", item_type="paper", note="Read section 3"
    )
    assert [(i.item_id, i.item_type, i.note) for i in after.items] == [
        ("2611.00002", "paper", None),
        ("2611.00001", "paper", "Read section 3"),
    ]
    assert status_of(lambda: ada.add_collection_item(made.slug, "2611.00002", "paper")) == 409
    again = ada.add_collection_item(made.slug, "2611.00002", "paper", exists_ok=True)
    assert len(again.items) == 2
    assert status_of(lambda: ada.add_collection_item(made.slug, "2611.09999", "paper")) == 404
    assert status_of(lambda: ada.add_collection_item(made.slug, "ada/model", "model")) == 422

    second = after.items[1]
    ada.update_collection_item(made.slug, second.item_object_id, note="Now first", position=0)
    read = hub(live).get_collection(made.slug)  # public: anyone reads it
    assert [(i.item_id, i.note, i.position) for i in read.items] == [
        ("2611.00001", "Now first", 0),
        ("2611.00002", None, 1),
    ]
    assert read.title == "Reading group" and read.description == "Fridays"

    renamed = ada.update_collection_metadata(made.slug, title="Friday reading", theme="blue")
    assert renamed.title == "Friday reading" and renamed.theme == "blue"
    assert renamed.slug.endswith(made.slug.rsplit("-")[-1]) and renamed.slug != made.slug
    assert ada.get_collection(made.slug).title == "Friday reading"  # the old name still works

    ada.delete_collection_item(renamed.slug, second.item_object_id)
    assert [i.item_id for i in ada.get_collection(renamed.slug).items] == ["2611.00002"]
    assert status_of(lambda: ada.delete_collection_item(renamed.slug, second.item_object_id)) == 404
    ada.delete_collection_item(renamed.slug, second.item_object_id, missing_ok=True)

    ada.delete_collection(renamed.slug)
    assert status_of(lambda: ada.get_collection(renamed.slug)) == 404
    ada.delete_collection(renamed.slug, missing_ok=True)


def test_private_collections_and_who_may_write(live: LiveServer, world: World) -> None:
    ada, grace, visitor = hub(live, world.token), hub(live, world.grace_token), hub(live)
    secret = ada.create_collection("Secret", private=True)
    shown = ada.create_collection("Shown")
    ada.add_collection_item(shown.slug, "2611.00001", "paper")
    assert status_of(lambda: visitor.get_collection(secret.slug)) == 404
    assert status_of(lambda: grace.get_collection(secret.slug)) == 404
    assert ada.get_collection(secret.slug).private is True
    assert status_of(lambda: grace.add_collection_item(shown.slug, "2611.00002", "paper")) == 403
    assert status_of(lambda: grace.delete_collection(shown.slug)) == 403
    assert status_of(lambda: visitor.create_collection("Anonymous", namespace="ada")) == 401
    assert status_of(lambda: grace.create_collection("Not mine", namespace="ada")) == 403

    assert status_of(lambda: ada.create_collection("shown")) == 409
    assert ada.create_collection("shown", exists_ok=True).slug == shown.slug

    assert [c.slug for c in visitor.list_collections(owner="ada")] == [shown.slug]
    mine = {c.slug for c in ada.list_collections(owner="ada")}
    assert mine == {secret.slug, shown.slug}
    holding = list(visitor.list_collections(item="papers/2611.00001"))
    assert [c.slug for c in holding] == [shown.slug]
    assert [i.item_id for i in holding[0].items] == ["2611.00001"]
    assert list(visitor.list_collections(item="models/ada/x")) == []
    assert list(visitor.list_collections(item="papers/2611.09999")) == []


def test_listings_page_with_link_headers(live: LiveServer, world: World) -> None:
    ada = hub(live, world.token)
    made = [ada.create_collection(f"List {n}", private=False).slug for n in range(5)]
    listed = [c.slug for c in hub(live).list_collections(owner="ada", sort="lastModified")]
    assert listed == made[::-1]
    first = httpx.get(f"{live.url}/api/collections", params={"owner": "ada", "limit": 2})
    assert len(first.json()) == 2 and first.links["next"]["url"]
    assert first.headers["cache-control"] == "private, no-store"
    assert [c.slug for c in hub(live).list_collections(owner="ada", limit=3)] == made[::-1][:3]
