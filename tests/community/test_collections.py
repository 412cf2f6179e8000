"""Collections: names and slugs, who may see and change what, order, notes, limits, Saved."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community import collections
from paperfeed.community.collections import CollectionExists, CollectionNotFound, NotOwner
from paperfeed.db import Database
from paperfeed.errors import UserError
from paperfeed.models import Collection, CollectionItem, Paper, User
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers

PAPERS = [
    PaperRecord(title="First", abstract="a", arxiv_id="2611.00001"),
    PaperRecord(title="Second", abstract="b", arxiv_id="2611.00002"),
    PaperRecord(title="Third", abstract="c", arxiv_id="2611.00003"),
]


def make_user(session: Session, name: str) -> User:
    user = User(
        username=name,
        email=f"{name}@example.org",
        password_hash="x",
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def people(db: Database) -> tuple[int, int]:
    with db.transaction() as session:
        upsert_papers(session, PAPERS)
        return make_user(session, "ada").id, make_user(session, "bob").id


def user(session: Session, user_id: int) -> User:
    found = session.get(User, user_id)
    assert found is not None
    return found


def test_a_collection_is_named_like_the_hubs_and_found_by_its_key(
    db: Database, people: tuple[int, int]
) -> None:
    with db.transaction() as session:
        ada = user(session, people[0])
        made = collections.create(session, ada, "  Reading group: LLMs & RL ", "For Fridays")
        slug = collections.hub_slug(made, ada)
        assert made.title == "Reading group: LLMs & RL" and made.private
        assert slug.startswith("ada/reading-group-llms-rl-") and len(slug.rsplit("-")[-1]) == 24
        collections.change(session, ada, made, title="Reading group")
        # An old name still finds it: only the key counts, and the owner's name.
        assert collections.find(session, slug, ada).id == made.id
        assert collections.hub_slug(made, ada).endswith(made.key)
        with pytest.raises(CollectionNotFound):
            collections.find(session, slug.replace("ada/", "bob/"), ada)
        with pytest.raises(CollectionExists) as twice:
            collections.create(session, ada, "reading GROUP")
        assert twice.value.status == 409 and twice.value.slug == collections.hub_slug(made, ada)


def test_private_collections_are_hidden_and_only_the_owner_changes_one(
    db: Database, people: tuple[int, int]
) -> None:
    with db.transaction() as session:
        ada, bob = user(session, people[0]), user(session, people[1])
        secret = collections.create(session, ada, "Secret")
        shown = collections.create(session, ada, "Shown", private=False)
        secret_slug, shown_slug = (collections.hub_slug(c, ada) for c in (secret, shown))
        with pytest.raises(CollectionNotFound):
            collections.find(session, secret_slug, bob)
        with pytest.raises(CollectionNotFound):
            collections.find(session, secret_slug, None)
        assert collections.find(session, shown_slug, None).id == shown.id
        with pytest.raises(NotOwner) as refused:
            collections.owned(session, shown_slug, bob)
        assert refused.value.status == 403
        with pytest.raises(NotOwner):
            collections.add(session, bob, shown, "2611.00001")
        with pytest.raises(NotOwner):
            collections.create(session, bob, "As ada", namespace="ada")
        assert [c.title for c in collections.list_of(session, ada, bob)] == ["Shown"]
        assert [c.title for c in collections.list_of(session, ada, ada)] == ["Secret", "Shown"]
        assert [c.title for c in collections.public(session, None)] == ["Shown"]


def test_items_keep_their_order_and_notes_and_refuse_duplicates(
    db: Database, people: tuple[int, int]
) -> None:
    with db.transaction() as session:
        ada = user(session, people[0])
        made = collections.create(session, ada, "Order")
        first = collections.add(session, ada, made, "2611.00001", note="  read this  ")
        collections.add(session, ada, made, "arXiv:2611.00002v3")
        third = collections.add(session, ada, made, "https://arxiv.org/abs/2611.00003")
        assert first.note == "read this"
        with pytest.raises(UserError) as twice:
            collections.add(session, ada, made, "2611.00001v2")
        assert twice.value.status == 409
        with pytest.raises(UserError) as missing:
            collections.add(session, ada, made, "2611.09999")
        assert missing.value.status == 404
        with pytest.raises(UserError) as long_note:
            collections.add(session, ada, made, "2611.00002", note="x" * 501)
        assert long_note.value.status == 422
        collections.change_item(session, ada, made, third, position=0, note="first now")
        order = [(e.paper.public_id, e.item.note) for e in collections.entries(session, made)]
        assert order == [
            ("2611.00003", "first now"),
            ("2611.00001", "read this"),
            ("2611.00002", None),
        ]
        collections.remove(session, ada, made, collections.item(session, made, first.key))
        ids = [e.paper.public_id for e in collections.entries(session, made)]
        assert ids == ["2611.00003", "2611.00002"]
        with pytest.raises(CollectionNotFound):
            collections.item(session, made, first.key)
        papers = {p.public_id: p.id for p in session.execute(select(Paper)).scalars()}
        assert collections.holding(session, ada, [papers["2611.00003"]]) == {
            papers["2611.00003"]: {made.id}
        }


def test_a_hidden_paper_leaves_the_lists_and_a_deleted_collection_takes_its_items(
    db: Database, people: tuple[int, int]
) -> None:
    with db.transaction() as session:
        ada = user(session, people[0])
        made = collections.create(session, ada, "Gone")
        collections.add(session, ada, made, "2611.00001")
        collections.add(session, ada, made, "2611.00002")
        hidden = session.execute(select(Paper).where(Paper.public_id == "2611.00001")).scalar_one()
        hidden.hidden_at = clock.now()
        session.flush()
        assert [e.paper.public_id for e in collections.entries(session, made)] == ["2611.00002"]
        collections.delete(session, ada, made)
    with db.reader() as session:
        assert session.execute(select(CollectionItem)).scalars().all() == []


def test_every_member_has_one_saved_collection_made_on_first_use(
    db: Database, people: tuple[int, int]
) -> None:
    with db.transaction() as session:
        ada = user(session, people[0])
        first = collections.saved(session, ada)
        assert collections.saved(session, ada).id == first.id
        assert first.title == "Saved" and first.private and first.saved
        with pytest.raises(UserError) as rename:
            collections.change(session, ada, first, title="Other")
        assert rename.value.status == 409
        with pytest.raises(UserError) as gone:
            collections.delete(session, ada, first)
        assert gone.value.status == 409
        with pytest.raises(CollectionExists):
            collections.create(session, ada, "Saved")
        collections.change(session, ada, first, private=False)
    with db.reader() as session:
        rows = session.execute(select(Collection).where(Collection.saved.is_(True))).all()
        assert len(rows) == 1


def test_the_feed_secret_is_replaced_and_the_old_one_stops_working(
    db: Database, people: tuple[int, int]
) -> None:
    with db.transaction() as session:
        ada, bob = user(session, people[0]), user(session, people[1])
        made = collections.create(session, ada, "Feed")
        old = collections.rotate_feed_secret(session, ada, made)
        assert collections.by_feed_secret(session, old) is made
        new = collections.rotate_feed_secret(session, ada, made)
        assert new != old and collections.by_feed_secret(session, old) is None
        assert collections.by_feed_secret(session, new) is made
        with pytest.raises(NotOwner):
            collections.rotate_feed_secret(session, bob, made)


def test_limits_on_titles_and_counts(
    db: Database, people: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collections, "MAX_COLLECTIONS", 2)
    monkeypatch.setattr(collections, "MAX_ITEMS", 1)
    with db.transaction() as session:
        ada = user(session, people[0])
        with pytest.raises(UserError) as empty:
            collections.create(session, ada, "   ")
        assert empty.value.status == 422
        with pytest.raises(UserError) as long_title:
            collections.create(session, ada, "x" * 101)
        assert long_title.value.status == 422
        one = collections.create(session, ada, "One")
        collections.create(session, ada, "Two")
        with pytest.raises(UserError) as full:
            collections.create(session, ada, "Three")
        assert full.value.status == 409
        collections.add(session, ada, one, "2611.00001")
        with pytest.raises(UserError) as items:
            collections.add(session, ada, one, "2611.00002")
        assert items.value.status == 409 and "at most 1" in str(items.value)


def test_titles_that_share_a_slug_are_two_collections_and_a_repeated_title_is_refused(
    db: Database, people: tuple[int, int]
) -> None:
    with db.transaction() as session:
        ada = user(session, people[0])
        first = collections.create(session, ada, "机器学习")
        second = collections.create(session, ada, "深度学习")  # both slugify to "collection"
        plus, sharp = (
            collections.create(session, ada, "C++"),
            collections.create(session, ada, "C#"),
        )
        assert len({first.slug, second.slug}) == 2 and len({plus.slug, sharp.slug}) == 2
        with pytest.raises(CollectionExists):
            collections.create(session, ada, "深度学习")
        not_saved = collections.create(session, ada, "Saved!")  # "saved" stays for Saved
        assert not_saved.slug != "saved"
        assert collections.saved(session, ada).slug == "saved"
        collections.change(session, ada, first, title="深度学习 2")
        with pytest.raises(CollectionExists):
            collections.change(session, ada, first, title="C++")


def test_a_paper_a_moderator_removed_is_not_counted(db: Database, people: tuple[int, int]) -> None:
    with db.transaction() as session:
        ada = user(session, people[0])
        made = collections.create(session, ada, "Reading")
        collections.add(session, ada, made, "2611.00001")
        collections.add(session, ada, made, "2611.00002")
        paper = session.execute(select(Paper).where(Paper.public_id == "2611.00002")).scalar_one()
        paper.hidden_at = clock.now()
        session.flush()
        assert collections.item_count(session, made) == 1
        assert len(collections.entries(session, made)) == 1
