from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from paperfeed import clock
from paperfeed.community.tokens import TokenError
from paperfeed.db import Database
from paperfeed.digest import subscriptions as subs
from paperfeed.models import SavedSearch, Subscription
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("", "Enter your email"),
        ("not-an-address", "does not look like"),
        ("a@b", "does not look like"),
        ("two@@example.org", "does not look like"),
        ("a@example.org, victim@example.org", "does not look like"),
        ("a@example.org\r\nBcc: victim@example.org", "line breaks"),
        ("a@example.org\x00", "control characters"),
        ("x" * 65 + "@example.org", "too long"),
    ],
)
def test_bad_addresses_are_refused_with_a_reason(address: str, reason: str) -> None:
    with pytest.raises(subs.SubscriptionError, match=reason):
        subs.normalize_address(address)


def test_addresses_are_normalized() -> None:
    assert subs.normalize_address("  Ada.Lovelace+papers@Example.ORG ") == (
        "ada.lovelace+papers@example.org"
    )


def test_double_opt_in_then_unsubscribe(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, db.url)
    with db.transaction() as session:
        outcome = subs.subscribe(session, "Reader@Example.org", "weekly")
        assert outcome.needs_confirmation and not outcome.already_active
        token = subs.link_token(settings, outcome.subscription, subs.CONFIRM)
    with db.transaction() as session:
        row = subs.from_token(settings, session, token, subs.CONFIRM)
        assert (row.email, row.status, row.frequency) == ("reader@example.org", "pending", "weekly")
        assert subs.confirm(row) and row.status == "active"
        assert not subs.confirm(row)  # a second click changes nothing
        # Subscribing an active address again leaves its settings alone.
        again = subs.subscribe(session, "reader@example.org", "daily")
        assert again.already_active and again.subscription.frequency == "weekly"
        unsubscribe = subs.link_token(settings, row, subs.UNSUBSCRIBE)
    with db.transaction() as session:
        row = subs.from_token(settings, session, unsubscribe, subs.UNSUBSCRIBE)
        assert subs.unsubscribe(row)
    with db.reader() as session:
        row = session.execute(select(Subscription)).scalar_one()
        assert row.status == "unsubscribed" and row.unsubscribed_at == clock.now()


def test_forged_expired_and_misused_tokens_are_refused(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, db.url)
    with db.transaction() as session:
        row = subs.subscribe(session, "reader@example.org").subscription
        confirm = subs.link_token(settings, row, subs.CONFIRM)
        unsubscribe = subs.link_token(settings, row, subs.UNSUBSCRIBE)
    body, mac = confirm.split(".")
    with db.reader() as session:
        for forged in (body + "." + mac[::-1], "garbage", "", body[:-2] + "." + mac):
            with pytest.raises(TokenError, match="not valid"):
                subs.from_token(settings, session, forged, subs.CONFIRM)
        with pytest.raises(TokenError, match="not valid"):
            subs.from_token(settings, session, unsubscribe, subs.CONFIRM)
        other_key = settings.model_copy(update={"secret_key": "another key"})
        with pytest.raises(TokenError, match="not valid"):
            subs.from_token(other_key, session, confirm, subs.CONFIRM)
    week_later, half_year_later = clock.now() + timedelta(days=8), clock.now() + timedelta(days=200)
    with (
        clock.frozen(week_later),
        db.reader() as session,
        pytest.raises(TokenError, match="expired"),
    ):
        subs.from_token(settings, session, confirm, subs.CONFIRM)
    with (
        clock.frozen(half_year_later),
        db.reader() as session,
        pytest.raises(TokenError, match="expired"),
    ):
        subs.from_token(settings, session, unsubscribe, subs.UNSUBSCRIBE)


@pytest.mark.parametrize(
    ("query", "author", "org", "reason"),
    [
        ("diffusion\r\nBcc: x@example.org", "", "", "line breaks"),
        ("", "Ada\nLovelace", "", "line breaks"),
        ("the of and", "", "", "too common"),
        ("", "", "", "Enter a topic"),
        ("2401.01234", "", "", "arXiv id"),
        ("", "", "no-such-org", "no organization"),
        ("x" * 400, "", "", "under 300"),
    ],
)
def test_bad_topics_change_nothing(
    db: Database, query: str, author: str, org: str, reason: str
) -> None:
    with db.transaction() as session:
        row = subs.subscribe(session, "reader@example.org", confirmed=True).subscription
    with pytest.raises(subs.SubscriptionError, match=reason), db.transaction() as session:
        subs.add_topic(session, session.get(Subscription, row.id), query, author, org)
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(SavedSearch)).scalar_one() == 0


def test_topics_are_named_and_removed_only_by_their_subscriber(db: Database) -> None:
    with db.transaction() as session:
        mine = subs.subscribe(session, "me@example.org", confirmed=True).subscription
        other = subs.subscribe(session, "other@example.org", confirmed=True).subscription
        topic = subs.add_topic(session, mine, '"diffusion models"', author="Ada Lovelace")
        assert topic.name == '“"diffusion models"” by Ada Lovelace'
        assert topic.filters == {"author": "Ada Lovelace"}
        assert not subs.remove_topic(session, other, topic.id)
        assert subs.remove_topic(session, mine, topic.id)
        assert subs.topics(session, mine.id) == []
