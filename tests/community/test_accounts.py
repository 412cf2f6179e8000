from datetime import timedelta

import pytest
from sqlalchemy import func, select

from paperfeed import clock
from paperfeed.community import accounts
from paperfeed.community.limits import Limit, hit
from paperfeed.community.tokens import TokenError, make_token, read_token
from paperfeed.db import Database
from paperfeed.models import ModerationLog, User, WebSession

PASSWORD = "correct horse battery"


def make(db: Database, name: str = "ada", role: str = "user"):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return accounts.create_user(session, name, f"{name}@example.org", PASSWORD, role=role)


def test_passwords_are_argon2_hashed(db: Database) -> None:
    user = make(db)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert accounts.password_matches(user, PASSWORD)
    assert not accounts.password_matches(user, PASSWORD + "!")


@pytest.mark.parametrize(
    ("username", "email", "password", "reason"),
    [
        ("ab", "a@example.org", PASSWORD, "Usernames"),
        ("has space", "a@example.org", PASSWORD, "Usernames"),
        ("admin", "a@example.org", PASSWORD, "Usernames"),
        ("grace", "not-an-email", PASSWORD, "email address"),
        ("grace", "g@example.org", "short", "at least 10"),
        ("ADA", "other@example.org", PASSWORD, "taken"),
        ("grace", "ADA@example.org", PASSWORD, "exists"),
    ],
)
def test_sign_up_rules(db: Database, username: str, email: str, password: str, reason: str) -> None:
    make(db)
    with pytest.raises(accounts.AccountError, match=reason), db.transaction() as session:
        accounts.create_user(session, username, email, password)


def test_log_in_by_name_or_email_and_bans_end_every_session(db: Database) -> None:
    make(db)
    with db.transaction() as session:
        by_name = accounts.authenticate(session, "ADA", PASSWORD)
        first = accounts.start_session(session, by_name)
        by_mail = accounts.authenticate(session, "ada@example.org", PASSWORD)
        second = accounts.start_session(session, by_mail)
    with db.reader() as session:
        assert accounts.session_user(session, first.cookie) is not None
        stored = session.execute(select(WebSession.id_hash)).scalars().all()
        assert first.cookie not in stored  # only hashes are kept
    with db.transaction() as session:
        user = accounts.find_user(session, "ada")
        accounts.ban(session, user, "spam")
    with db.reader() as session:
        assert accounts.session_user(session, first.cookie) is None
        assert accounts.session_user(session, second.cookie) is None
        assert session.execute(select(func.count()).select_from(WebSession)).scalar_one() == 0
        assert session.execute(select(ModerationLog.action)).scalar_one() == "ban"
    with pytest.raises(accounts.AccountError, match="banned"), db.transaction() as session:
        accounts.authenticate(session, "ada", PASSWORD)


def test_sessions_expire(db: Database, fixed_clock) -> None:
    make(db)
    with db.transaction() as session:
        new = accounts.start_session(session, accounts.find_user(session, "ada"))
    with (
        clock.frozen(fixed_clock + timedelta(days=accounts.SESSION_DAYS + 1)),
        db.reader() as session,
    ):
        assert accounts.session_user(session, new.cookie) is None


def test_password_change_ends_other_sessions(db: Database) -> None:
    make(db)
    with db.transaction() as session:
        user = accounts.find_user(session, "ada")
        keep = accounts.start_session(session, user)
        other = accounts.start_session(session, user)
    with db.transaction() as session:
        user = accounts.find_user(session, "ada")
        accounts.change_password(session, user, "a brand new password", keep.cookie)
    with db.reader() as session:
        assert accounts.session_user(session, keep.cookie) is not None
        assert accounts.session_user(session, other.cookie) is None


def test_rate_limits_are_shared_between_processes(db: Database) -> None:
    other_process = Database(db.url)  # its own engine and connections, like another worker
    limit = Limit("test", 3, 60)
    verdicts = []
    for database in (db, other_process, db, other_process):
        with database.transaction() as session:
            verdicts.append(hit(session, limit, "1.2.3.4"))
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert 0 < verdicts[-1].retry_after <= 60
    with db.transaction() as session:
        assert hit(session, limit, "5.6.7.8").allowed
    other_process.dispose()


def test_tokens_expire_and_cannot_be_forged(settings) -> None:  # type: ignore[no-untyped-def]
    token = make_token(settings, "verify", 7, 60, bind="ada@example.org")
    assert read_token(settings, token, "verify")[0] == 7
    with pytest.raises(TokenError):
        read_token(settings, token, "reset")
    body, mac = token.split(".")
    with pytest.raises(TokenError):
        read_token(settings, body + "x." + mac, "verify")
    with (
        pytest.raises(TokenError, match="expired"),
        clock.frozen(clock.now() + timedelta(minutes=2)),
    ):
        read_token(settings, token, "verify")


def test_new_accounts_keep_their_upvotes_private_until_they_choose(db: Database) -> None:
    with db.transaction() as session:
        user = accounts.create_user(session, "ada", "ada@example.org", "long enough password")
        assert user.upvotes_public is False
        accounts.set_upvotes_public(user, True)
    with db.reader() as session:
        assert session.get(User, user.id).upvotes_public is True
