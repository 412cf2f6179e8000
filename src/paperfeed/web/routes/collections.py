"""Collection pages and forms, and a collection's feeds and exports.

Who may do what (community/collections.py decides): anyone reads a public collection's
page and exports; a private one is only for its owner (404 for anyone else), and its feeds
also at a secret address the owner can replace. Only the owner changes a collection.

Every form is a plain POST with the CSRF token that sends the browser back (303); the save
buttons on cards and paper pages also answer JSON to `static/app.js`, so they work without
a reload. Nothing here is shared-cached: pages and exports are `private` (a collection
changes without the papers' change sequence moving, so there is no public ETag to give).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community import collections as store
from paperfeed.config import Settings
from paperfeed.errors import UserError
from paperfeed.models import Collection, User
from paperfeed.papers.lookup import visible_paper
from paperfeed.web import exports, listings, syndication
from paperfeed.web.deps import DatabaseDep, ReaderDep, SettingsDep
from paperfeed.web.forms import FormDep, safe_redirect_target
from paperfeed.web.responses import REVALIDATE, page, redirect
from paperfeed.web.routes.downloads import FORMATS, paper_authors, self_url
from paperfeed.web.security import CurrentUser, SignedInUser, check_csrf

router = APIRouter(include_in_schema=False)

EXPORTS = {**FORMATS, "bib": "text/plain; charset=utf-8", "md": "text/plain; charset=utf-8"}
PRIVATE = "private, no-cache"
FEED_LIMIT = 1000  # a collection holds at most MAX_ITEMS papers: one file holds them all


def _name(namespace: str, slug: str) -> str:
    return f"{namespace}/{slug}"


def _path(collection: Collection, owner: User) -> str:
    return f"/collections/{store.hub_slug(collection, owner)}"


def _back(request: Request, form: Any, settings: Settings, fallback: str) -> str:
    return (
        safe_redirect_target(form.text("next", max_len=2000), settings.site_url)
        or safe_redirect_target(request.headers.get("referer"), settings.site_url)
        or fallback
    )


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


# --- pages --------------------------------------------------------------------------------


@router.get("/collections")
def my_collections(request: Request, session: ReaderDep, user: SignedInUser) -> Response:
    mine = store.list_of(session, user, user)
    counts = {c.id: store.item_count(session, c) for c in mine}
    paths = {c.id: _path(c, user) for c in mine}
    return page(
        request,
        "collections.html",
        collections=mine,
        counts=counts,
        paths=paths,
        has_saved=any(c.saved for c in mine),
        limits={"title": store.MAX_TITLE, "description": store.MAX_DESCRIPTION},
    )


@router.post("/collections", dependencies=[Depends(check_csrf)])
def create_collection(
    request: Request, db: DatabaseDep, user: SignedInUser, form: FormDep
) -> Response:
    title = form.text("title", max_len=store.MAX_TITLE * 2)
    description = form.text("description", max_len=store.MAX_DESCRIPTION * 2)
    private = form.text("visibility", max_len=10, default="private") != "public"
    with db.transaction() as session:
        made = store.create(session, user, title, description, private)
        path = _path(made, user)
    return redirect(path, "created")


def _shown(
    session: Session, namespace: str, slug: str, viewer: User | None
) -> tuple[Collection, User]:
    collection = store.find(session, _name(namespace, slug), viewer)
    owner = store.owner_of(session, collection)
    return collection, owner


@router.get("/collections/{namespace}/{slug}.{fmt}")
def collection_export(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    viewer: CurrentUser,
    namespace: str,
    slug: str,
    fmt: str,
) -> Response:
    """`.rss`, `.atom`, `.csv`, `.jsonl`, `.bib`, `.md`: public ones for anyone, a private
    one for its owner (and at its secret address, `/feeds/collections/...`)."""
    _format(fmt)
    collection, owner = _shown(session, namespace, slug, viewer)
    return _export(request, session, settings, collection, owner, fmt)


@router.get("/feeds/collections/{secret}.{fmt}")
def secret_feed(
    request: Request, session: ReaderDep, settings: SettingsDep, secret: str, fmt: str
) -> Response:
    """A private collection's feeds and exports for feed readers, which cannot sign in."""
    _format(fmt)
    collection = store.by_feed_secret(session, secret)
    if collection is None:
        raise HTTPException(404, "This feed address is not valid (its owner may have replaced it).")
    owner = store.owner_of(session, collection)
    if owner.banned_at is not None:
        raise HTTPException(404, "This feed address is not valid.")
    response = _export(request, session, settings, collection, owner, fmt)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/collections/{namespace}/{slug}")
def collection_page(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    viewer: CurrentUser,
    namespace: str,
    slug: str,
) -> Response:
    collection, owner = _shown(session, namespace, slug, viewer)
    path = _path(collection, owner)
    if request.url.path != path:
        return RedirectResponse(path, status_code=301)
    entries = store.entries(session, collection)
    listing = listings.complete(session, _listing(collection, owner, entries))
    mine = viewer is not None and viewer.id == owner.id
    secret_url = (
        f"{settings.site_url.rstrip('/')}/feeds/collections/{collection.feed_secret}.rss"
        if mine and collection.feed_secret
        else None
    )
    return page(
        request,
        "collection.html",
        cache=PRIVATE,
        collection=collection,
        owner=owner,
        path=path,
        entries=entries,
        authors=listing.authors,
        mine=mine,
        secret_url=secret_url,
        themes=store.THEMES,
        limits={"title": store.MAX_TITLE, "description": store.MAX_DESCRIPTION},
        max_note=store.MAX_NOTE,
        notice=NOTICES.get(request.query_params.get("done", "")),
    )


NOTICES = {
    "created": "Collection created. Add papers from any paper page.",
    "saved": "Saved.",
    "secret": "A new secret feed address is ready; the old one no longer works.",
}


# --- changing a collection -----------------------------------------------------------------


def _owned(session: Session, user: User, namespace: str, slug: str) -> Collection:
    return store.owned(session, _name(namespace, slug), user)


@router.post("/collections/{namespace}/{slug}/edit", dependencies=[Depends(check_csrf)])
def edit_collection(
    db: DatabaseDep, user: SignedInUser, form: FormDep, namespace: str, slug: str
) -> Response:
    with db.transaction() as session:
        collection = _owned(session, user, namespace, slug)
        store.change(
            session,
            user,
            collection,
            title=form.text("title", max_len=store.MAX_TITLE * 2) if "title" in form else None,
            description=form.text("description", max_len=store.MAX_DESCRIPTION * 2)
            if "description" in form
            else None,
            private=form.text("visibility", max_len=10) != "public"
            if "visibility" in form
            else None,
        )
        path = _path(collection, user)
    return redirect(path, "saved")


@router.post("/collections/{namespace}/{slug}/delete", dependencies=[Depends(check_csrf)])
def delete_collection(db: DatabaseDep, user: SignedInUser, namespace: str, slug: str) -> Response:
    with db.transaction() as session:
        store.delete(session, user, _owned(session, user, namespace, slug))
    return redirect("/collections")


@router.post("/collections/{namespace}/{slug}/feed-secret", dependencies=[Depends(check_csrf)])
def new_feed_secret(db: DatabaseDep, user: SignedInUser, namespace: str, slug: str) -> Response:
    with db.transaction() as session:
        collection = _owned(session, user, namespace, slug)
        store.rotate_feed_secret(session, user, collection)
        path = _path(collection, user)
    return redirect(path + "#feeds", "secret")


@router.post("/collections/{namespace}/{slug}/items", dependencies=[Depends(check_csrf)])
def add_to_collection(
    db: DatabaseDep, user: SignedInUser, form: FormDep, namespace: str, slug: str
) -> Response:
    with db.transaction() as session:
        collection = _owned(session, user, namespace, slug)
        store.add(
            session,
            user,
            collection,
            form.text("paper", max_len=300),
            form.text("note", max_len=store.MAX_NOTE * 2),
        )
        path = _path(collection, user)
    return redirect(path, "saved")


@router.post("/collections/{namespace}/{slug}/items/{item_key}", dependencies=[Depends(check_csrf)])
def change_item(
    db: DatabaseDep, user: SignedInUser, form: FormDep, namespace: str, slug: str, item_key: str
) -> Response:
    """`action`: `note` (set the note), `remove`, `up`, `down`."""
    action = form.text("action", max_len=10)
    with db.transaction() as session:
        collection = _owned(session, user, namespace, slug)
        entry = store.item(session, collection, item_key)
        if action == "remove":
            store.remove(session, user, collection, entry)
        elif action == "note":
            store.change_item(
                session, user, collection, entry, note=form.text("note", max_len=store.MAX_NOTE * 2)
            )
        elif action in ("up", "down"):
            order = [e.item.id for e in store.entries(session, collection)]
            index = order.index(entry.id) if entry.id in order else 0
            target = max(0, index - 1) if action == "up" else index + 1
            store.change_item(session, user, collection, entry, position=target)
        else:
            raise UserError("Say what to do with the paper: note, remove, up or down.")
        path = _path(collection, user)
    return redirect(path + f"#item-{entry.key}" if action != "remove" else path, "saved")


# --- saving from cards and paper pages -------------------------------------------------------


@router.post("/collections/save", dependencies=[Depends(check_csrf)])
def save_paper(
    request: Request, db: DatabaseDep, settings: SettingsDep, user: SignedInUser, form: FormDep
) -> Response:
    """Put a paper into a collection of the user's, or take it out (`saved=0`): the one
    named by `collection` (its key), else Saved."""
    paper_id = form.text("paper", max_len=300)
    wanted = form.text("saved", max_len=2, default="1") != "0"
    key = form.text("collection", max_len=24)
    with db.transaction() as session:
        paper = visible_paper(session, paper_id).paper
        collection = (
            store.owned(session, f"{user.username}/{key}", user)
            if key
            else store.saved(session, user)
        )
        present = store.holding(session, user, [paper.id]).get(paper.id, set())
        if wanted and collection.id not in present:
            store.add(session, user, collection, paper.public_id)
        elif not wanted and collection.id in present:
            entry = store.item_for_paper(session, collection, paper.public_id)
            store.remove(session, user, collection, entry)
        title, public_id = collection.title, paper.public_id
    if _wants_json(request):
        return JSONResponse(
            {"saved": wanted, "collection": title}, headers={"Cache-Control": "no-store"}
        )
    return RedirectResponse(_back(request, form, settings, f"/papers/{public_id}"), status_code=303)


# --- exports --------------------------------------------------------------------------------


def _format(fmt: str) -> None:
    if fmt not in EXPORTS:
        raise HTTPException(
            404,
            f"Unknown format “{fmt[:20]}”: collections come as .rss, .atom, .csv, .jsonl, "
            ".bib or .md.",
        )


def _listing(collection: Collection, owner: User, entries: list[store.Entry]) -> listings.Listing:
    return listings.Listing(
        title=f"{collection.title} · a collection by {owner.username}",
        description=collection.description or f"Papers collected by {owner.username}.",
        page_path=_path(collection, owner),
        slug=f"collection-{collection.slug}",
        papers=[e.paper for e in entries],
        total=len(entries),
    )


def _export(
    request: Request,
    session: Session,
    settings: Settings,
    collection: Collection,
    owner: User,
    fmt: str,
) -> Response:
    entries = store.entries(session, collection, FEED_LIMIT)
    listing = listings.complete(session, _listing(collection, owner, entries))
    notes = {e.paper.id: e.item.note or "" for e in entries}
    headers: dict[str, str] = {"Cache-Control": PRIVATE if collection.private else REVALIDATE}
    filename = f"{settings.site_name}-{listing.slug}.{fmt}"
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in filename)
    body: bytes | str
    if fmt in ("rss", "atom"):
        write = syndication.rss if fmt == "rss" else syndication.atom
        updated = collection.updated_at or clock.now()
        body = write(listing, settings.site_url, self_url(request, settings.site_url), updated)
    elif fmt in ("csv", "jsonl"):
        rows = exports.rows(listing, settings.site_url, settings.tz)
        records = [
            {**record, "note": notes[paper.id]}
            for record, paper in zip(rows, listing.papers, strict=True)
        ]
        body = (
            exports.to_csv(records, (*exports.COLUMNS, "note"))
            if fmt == "csv"
            else exports.to_jsonl(records)
        )
        headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    elif fmt == "bib":
        body = "\n".join(
            exports.bibtex(e.paper, paper_authors(session, e.paper), settings.site_url)
            for e in entries
        )
        headers["Content-Disposition"] = f'inline; filename="{safe}"'
    else:
        body = collection_markdown(collection, owner, listing, notes, settings.site_url)
        headers["Content-Disposition"] = f'inline; filename="{safe}"'
    return Response(body, media_type=EXPORTS[fmt], headers=headers)


def collection_markdown(
    collection: Collection,
    owner: User,
    listing: listings.Listing,
    notes: dict[int, str],
    site_url: str,
) -> str:
    """A heading, the description, then one numbered entry per paper with its authors, its
    link here and on arXiv, and the owner's note quoted."""
    site = site_url.rstrip("/")
    lines = [f"# {exports.markdown_text(collection.title)}", ""]
    lines += [
        f"A collection by {exports.markdown_text(owner.username)}: "
        f"<{site}{quote(listing.page_path)}>",
        "",
    ]
    if collection.description:
        lines += [exports.markdown_text(collection.description), ""]
    for number, paper in enumerate(listing.papers, 1):
        url = exports.markdown_url(f"{site}/papers/{paper.public_id}")
        lines.append(f"{number}. [{exports.markdown_text(paper.title)}]({url})")
        authors = listing.authors.get(paper.id, [])
        if authors:
            lines.append(f"   {exports.markdown_text(', '.join(authors))}")
        links = exports.arxiv_links(paper)
        if links:
            lines.append(f"   arXiv: <{links[0]}>")
        if notes.get(paper.id):
            lines.append(f"   > {exports.markdown_text(' '.join(notes[paper.id].split()))}")
    return "\n".join(lines) + "\n"
