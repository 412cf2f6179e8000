"""`/api/collections`: collections in the Hub's dialect, so `huggingface_hub`'s
`create_collection`, `get_collection`, `list_collections`, `update_collection_metadata`,
`delete_collection`, `add_collection_item`, `update_collection_item` and
`delete_collection_item` work against paperfeed unchanged.

A collection is named `owner/title-slug-<24 hex>` as on the Hub; items are papers only
(`item_type="paper"`), each with the Hub's `_id` (the client's `item_object_id`), `position`
and `note: {"text": ...}`. Reads look at credentials only to show the caller their own
private collections (a token that is not valid here reads as a visitor); writes need a
token or a signed-in browser with the CSRF header (`auth.py`). The rules, limits and rate
limit are the web pages' (`community/collections.py`). Answers are `private, no-store`:
what a collection holds depends on who asks.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from paperfeed.community import collections as store
from paperfeed.community.collections import (
    MAX_DESCRIPTION,
    MAX_NOTE,
    MAX_TITLE,
    CollectionExists,
    Invalid,
)
from paperfeed.db import Database
from paperfeed.models import Collection, User
from paperfeed.papers.lookup import find_by_id
from paperfeed.web.api.auth import ApiUser, identify
from paperfeed.web.api.common import json_response
from paperfeed.web.api.schemas import Open, errors
from paperfeed.web.api.serializers import Json, iso, user_json
from paperfeed.web.deps import DatabaseDep, SettingsDep

router = APIRouter()
NO_STORE = {"Cache-Control": "private, no-store"}
LIST_ITEMS = 4  # a listing shows each collection's first items, as the Hub does
PAGE_SIZE = 100
SORTS = ("lastModified", "trending", "upvotes", "position")


class ItemRef(BaseModel):
    id: str = Field(min_length=1, max_length=300, description="A paper id (arXiv id or URL)")
    type: str = Field(max_length=20, description='Only "paper"')


class CollectionIn(BaseModel):
    title: str = Field(max_length=MAX_TITLE * 2)
    namespace: str | None = Field(default=None, max_length=100, description="Your username")
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION * 2)
    private: bool = False


class CollectionPatch(BaseModel):
    title: str | None = Field(default=None, max_length=MAX_TITLE * 2)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION * 2)
    private: bool | None = None
    theme: str | None = Field(default=None, max_length=20)
    position: int | None = Field(default=None, ge=0, le=10_000)


class ItemIn(BaseModel):
    item: ItemRef
    note: str | None = Field(default=None, max_length=MAX_NOTE * 2)


class ItemPatch(BaseModel):
    note: str | None = Field(default=None, max_length=MAX_NOTE * 2)
    position: int | None = Field(default=None, ge=0, le=100_000)


class ItemOut(Open):
    id_: str = Field(alias="_id", description="The item's id in the collection")
    id: str = Field(description="The paper's id")
    type: str
    position: int


class CollectionOut(Open):
    slug: str
    title: str
    owner: dict[str, Any]
    items: list[ItemOut]
    lastUpdated: str
    private: bool
    theme: str
    upvotes: int


class UpdatedOut(Open):
    success: bool
    data: CollectionOut


class DoneOut(Open):
    success: bool


def viewer(request: Request, db: Database) -> User | None:
    """Who asks, for reading: their own private collections show; anyone else reads as a
    visitor (a token for some other site is not an error on a read)."""
    try:
        return identify(request, db, csrf=False)
    except HTTPException:
        return None


def collection_json(
    session: Session, collection: Collection, site_url: str, limit: int | None = None
) -> Json:
    owner = store.owner_of(session, collection)
    slug = store.hub_slug(collection, owner)
    items = []
    for entry in store.entries(session, collection, limit):
        paper, item = entry.paper, entry.item
        entry_json: Json = {
            "_id": item.key,
            "id": paper.public_id,
            "type": "paper",
            "position": item.position,
            "title": paper.title,
            "publishedAt": iso(paper.published_at),
            "upvotes": paper.upvotes,
            "numComments": paper.comment_count,
            "addedAt": iso(item.added_at),
        }
        if item.note:
            entry_json["note"] = {"text": item.note}
        items.append(entry_json)
    data: Json = {
        "id": collection.key,
        "slug": slug,
        "title": collection.title,
        "description": collection.description or None,
        "owner": user_json(owner),
        "items": items,
        "numItems": store.item_count(session, collection),
        "lastUpdated": iso(collection.updated_at),
        "createdAt": iso(collection.created_at),
        "private": collection.private,
        "theme": collection.theme,
        "upvotes": 0,
        "isUpvotedByUser": False,
        "gating": False,
        "saved": collection.saved,
        "shareUrl": f"{site_url.rstrip('/')}/collections/{slug}",
    }
    if limit is None:
        # The order among the owner's collections; a listing leaves it out, since the
        # client numbers a listing's collections itself (and refuses a second `position`).
        data["position"] = collection.position
    return data


def _name(namespace: str, slug: str) -> str:
    return f"{namespace}/{slug}"


@router.get(
    "/collections",
    summary="Collections: public ones, and your private ones with a token",
    response_model=list[CollectionOut],
    responses=errors(400),
)
def list_collections(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    owner: str | None = None,
    item: str | None = None,
    sort: str = "lastModified",
    limit: int = PAGE_SIZE,
    p: int = 0,
) -> Response:
    """`owner` a username; `item` `papers/<id>` (collections holding that paper); each
    collection shows its first four items; pages of up to 100, the next in `Link`."""
    if sort not in SORTS:
        raise HTTPException(400, f"Bad request: sort is one of {', '.join(SORTS)}.")
    if not 1 <= limit <= PAGE_SIZE or not 0 <= p <= 10_000:
        raise HTTPException(400, f"Bad request: limit is 1 to {PAGE_SIZE}, p 0 to 10000.")
    if len(owner or "") > 100 or len(item or "") > 300:
        raise HTTPException(400, "Bad request: owner or item is too long.")
    who = viewer(request, db)
    with db.reader() as session:
        paper = None
        if item is not None:
            kind, _, paper_id = item.partition("/")
            if kind != "papers" or not paper_id:
                return json_response([], headers=NO_STORE)  # only papers are ever collected
            named = find_by_id(session, paper_id)
            if named is None or named.paper.hidden_at is not None:
                return json_response([], headers=NO_STORE)  # no collection holds it
            paper = named.paper
        found = store.public(
            session,
            who,
            owner=owner,
            paper=paper,
            sort="position" if sort == "position" else "lastModified",
            limit=limit + 1,
            offset=p * limit,
        )
        data = [collection_json(session, c, settings.site_url, LIST_ITEMS) for c in found[:limit]]
    headers = dict(NO_STORE)
    if len(found) > limit:
        following = request.url.include_query_params(p=p + 1, limit=limit)
        headers["Link"] = f'<{following}>; rel="next"'
    return json_response(data, headers=headers)


@router.post(
    "/collections",
    summary="Create a collection (409 with its slug if you have one of that title)",
    response_model=CollectionOut,
    responses=errors(400, 401, 403, 409, 429),
)
def create_collection(
    db: DatabaseDep, settings: SettingsDep, user: ApiUser, body: Annotated[CollectionIn, Body()]
) -> Response:
    try:
        with db.transaction() as session:
            made = store.create(
                session, user, body.title, body.description, body.private, body.namespace
            )
            data = collection_json(session, made, settings.site_url)
    except CollectionExists as exc:
        return json_response({"error": str(exc), "slug": exc.slug}, 409, NO_STORE)
    return json_response(data, headers=NO_STORE)


@router.get(
    "/collections/{namespace}/{slug}",
    summary="A collection with all its papers",
    response_model=CollectionOut,
    responses=errors(404),
)
def get_collection(
    request: Request, db: DatabaseDep, settings: SettingsDep, namespace: str, slug: str
) -> Response:
    who = viewer(request, db)
    with db.reader() as session:
        found = store.find(session, _name(namespace, slug), who)
        data = collection_json(session, found, settings.site_url)
    return json_response(data, headers=NO_STORE)


@router.patch(
    "/collections/{namespace}/{slug}",
    summary="Change a collection's title, description, privacy, theme or position",
    response_model=UpdatedOut,
    responses=errors(400, 401, 403, 404, 409, 429),
)
def update_collection(
    db: DatabaseDep,
    settings: SettingsDep,
    user: ApiUser,
    namespace: str,
    slug: str,
    body: Annotated[CollectionPatch, Body()],
) -> Response:
    with db.transaction() as session:
        found = store.owned(session, _name(namespace, slug), user)
        store.change(
            session,
            user,
            found,
            title=body.title,
            description=body.description,
            private=body.private,
            theme=body.theme,
            position=body.position,
        )
        data = collection_json(session, found, settings.site_url)
    return json_response({"success": True, "data": data}, headers=NO_STORE)


@router.delete(
    "/collections/{namespace}/{slug}",
    summary="Delete a collection",
    response_model=DoneOut,
    responses=errors(401, 403, 404, 409, 429),
)
def delete_collection(db: DatabaseDep, user: ApiUser, namespace: str, slug: str) -> Response:
    with db.transaction() as session:
        store.delete(session, user, store.owned(session, _name(namespace, slug), user))
    return json_response({"success": True}, headers=NO_STORE)


@router.post(
    "/collections/{namespace}/{slug}/items",
    summary="Add a paper to a collection, with an optional note",
    response_model=CollectionOut,
    responses=errors(400, 401, 403, 404, 409, 429),
)
def add_item(
    db: DatabaseDep,
    settings: SettingsDep,
    user: ApiUser,
    namespace: str,
    slug: str,
    body: Annotated[ItemIn, Body()],
) -> Response:
    if body.item.type != "paper":
        raise Invalid(f"A collection here holds papers, not a {body.item.type[:20]}.")
    with db.transaction() as session:
        found = store.owned(session, _name(namespace, slug), user)
        store.add(session, user, found, body.item.id, body.note)
        data = collection_json(session, found, settings.site_url)
    return json_response(data, headers=NO_STORE)


@router.patch(
    "/collections/{namespace}/{slug}/items/{item_id}",
    summary="Change an item's note or move it",
    response_model=DoneOut,
    responses=errors(400, 401, 403, 404, 429),
)
def update_item(
    db: DatabaseDep,
    user: ApiUser,
    namespace: str,
    slug: str,
    item_id: str,
    body: Annotated[ItemPatch, Body()],
) -> Response:
    with db.transaction() as session:
        found = store.owned(session, _name(namespace, slug), user)
        entry = store.item(session, found, item_id)
        store.change_item(session, user, found, entry, note=body.note, position=body.position)
    return json_response({"success": True}, headers=NO_STORE)


@router.delete(
    "/collections/{namespace}/{slug}/items/{item_id}",
    summary="Remove an item from a collection",
    response_model=DoneOut,
    responses=errors(401, 403, 404, 429),
)
def delete_item(
    db: DatabaseDep, user: ApiUser, namespace: str, slug: str, item_id: str
) -> Response:
    with db.transaction() as session:
        found = store.owned(session, _name(namespace, slug), user)
        store.remove(session, user, found, store.item(session, found, item_id))
    return json_response({"success": True}, headers=NO_STORE)
