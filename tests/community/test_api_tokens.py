"""API tokens: stored only as a hash, shown once, named, revocable, dead with a ban."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from paperfeed.community import accounts, api_tokens
from paperfeed.db import Database
from paperfeed.models import ApiToken


def make_user(db: Database, name: str = "ada"):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return accounts.create_user(session, name, f"{name}@example.org", "long enough password")


def test_only_the_hash_is_stored(db: Database) -> None:
    ada = make_user(db)
    with db.transaction() as session:
        new = api_tokens.create_token(session, ada, "  my   laptop ")
    assert new.token.startswith("pf_") and len(new.token) > 40
    with db.reader() as session:
        row = session.execute(select(ApiToken)).scalar_one()
        stored = [str(v) for v in (row.token_hash, row.prefix, row.name)]
    assert new.token not in " ".join(stored)
    assert row.token_hash == hashlib.sha256(new.token.encode()).hexdigest()
    assert row.prefix == new.token[:10] and row.name == "my laptop"
    with db.reader() as session:
        found, user = api_tokens.token_user(session, new.token)
    assert user.username == "ada" and found.id == row.id


def test_revoked_unknown_and_foreign_tokens(db: Database) -> None:
    ada, grace = make_user(db), make_user(db, "grace")
    with db.transaction() as session:
        new = api_tokens.create_token(session, ada, "ci")
    with db.transaction() as session, pytest.raises(api_tokens.ApiTokenError):
        api_tokens.revoke_token(session, grace, new.row.id)  # not hers
    with db.transaction() as session:
        api_tokens.revoke_token(session, ada, new.row.id)
    with db.reader() as session:
        assert api_tokens.user_tokens(session, ada.id) == []
        with pytest.raises(api_tokens.InvalidToken, match="revoked"):
            api_tokens.token_user(session, new.token)
        with pytest.raises(api_tokens.InvalidToken, match="not valid"):
            api_tokens.token_user(session, new.token[:-1] + "x")
        with pytest.raises(api_tokens.InvalidToken, match="start with"):
            api_tokens.token_user(session, "hf_abc")
    with db.transaction() as session, pytest.raises(api_tokens.ApiTokenError, match="revoked"):
        api_tokens.revoke_token(session, ada, new.row.id)


def test_names_and_the_cap(db: Database) -> None:
    ada = make_user(db)
    with db.transaction() as session:
        for bad, message in (("   ", "Give the token a name"), ("x" * 101, "100 characters")):
            with pytest.raises(api_tokens.ApiTokenError, match=message):
                api_tokens.create_token(session, ada, bad)
        for i in range(api_tokens.MAX_ACTIVE):
            api_tokens.create_token(session, ada, f"t{i}")
        with pytest.raises(api_tokens.ApiTokenError, match="Revoke one"):
            api_tokens.create_token(session, ada, "one more")
    with db.reader() as session:
        names = [t.name for t in api_tokens.user_tokens(session, ada.id)]
    assert len(names) == api_tokens.MAX_ACTIVE


def test_a_ban_stops_tokens(db: Database) -> None:
    ada = make_user(db)
    with db.transaction() as session:
        new = api_tokens.create_token(session, ada, "ci")
        accounts.ban(session, session.merge(ada), "spam")
    with db.reader() as session, pytest.raises(api_tokens.InvalidToken, match="banned"):
        api_tokens.token_user(session, new.token)
