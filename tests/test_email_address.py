"""One email address check for sign-up, digests and the CLI: strict, linear, bounded."""

from __future__ import annotations

import time

import pytest

from paperfeed.community.accounts import AccountError, create_user
from paperfeed.db import Database
from paperfeed.digest.subscriptions import SubscriptionError, normalize_address
from paperfeed.email_address import EmailAddressError, parse_email_address


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ada@Example.org", "ada@example.org"),
        ("  first.last+tag@sub.example.co.uk ", "first.last+tag@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
    ],
)
def test_real_addresses_pass_lower_cased(text: str, expected: str) -> None:
    assert parse_email_address(text) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("ada\x00@example.org", "control"),
        ("ada\x01@example.org", "control"),
        ("ada\x7f@example.org", "control"),
        ("ada@example.org\r\nBcc: victim@example.org", "line breaks"),
        ("ada@example.org, eve@example.org", "does not look like"),
        ("ada,eve@example.org", "does not look like"),
        ("ada@localhost", "does not look like"),
        ("ada..b@example.org", "does not look like"),
        ("ädä@example.org", "does not look like"),
        ("a" * 65 + "@example.org", "too long"),
        ("a@" + "b" * 250 + ".org", "too long"),
        ("", "Enter"),
    ],
)
def test_addresses_that_cannot_go_into_a_header_are_refused(text: str, reason: str) -> None:
    with pytest.raises(EmailAddressError, match=reason):
        parse_email_address(text)


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 1_000_000,
        "a@" + "a." * 500_000,
        "a." * 40_000 + "@",
        "@" * 40_000,
        "a@" + "a-" * 100 + "!",
        "a" * 64 + "@" + ("a" * 62 + ".") * 3 + "a" * 62 + "!",
    ],
)
def test_hostile_input_is_refused_in_linear_time(hostile: str) -> None:
    started = time.perf_counter()
    with pytest.raises(EmailAddressError):
        parse_email_address(hostile)
    assert time.perf_counter() - started < 0.05


def test_sign_up_and_digests_share_the_rule(db: Database) -> None:
    for bad in ("ada\x00@example.org", "ada,eve@example.org"):
        with pytest.raises(SubscriptionError):
            normalize_address(bad)
        with db.transaction() as session, pytest.raises(AccountError):
            create_user(session, "ada", bad, "correct horse battery")
