"""The one email address check of the whole product (sign-up, digests, the CLI).

Addresses end up in `To:` headers and SMTP envelopes, so the rule is strict and cheap:
the length is checked before anything else looks at the text, then control characters,
then one regular expression whose pieces cannot overlap (the local part's atoms exclude the
dot that separates them; domain labels are bounded), so matching is linear in the length.
Plain ASCII addresses only: internationalized ones would need SMTPUTF8 end to end.
"""

from __future__ import annotations

import re

from paperfeed.errors import UserError

MAX_LENGTH = 254  # RFC 5321's path limit, less the angle brackets
MAX_LOCAL = 64

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")


class EmailAddressError(UserError):
    """Not an address we can send to; the message says why, for people."""


def parse_email_address(text: str) -> str:
    """The address, trimmed and lower-cased, or EmailAddressError."""
    if len(text) > 4 * MAX_LENGTH:
        raise EmailAddressError("That email address is too long.")
    address = text.strip().lower()
    if not address:
        raise EmailAddressError("Enter your email address.")
    if len(address) > MAX_LENGTH or len(address.partition("@")[0]) > MAX_LOCAL:
        raise EmailAddressError("That email address is too long.")
    if "\r" in address or "\n" in address:
        raise EmailAddressError("The email address may not contain line breaks.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in address) or not address.isprintable():
        raise EmailAddressError("The email address may not contain control characters.")
    if not _ADDRESS.fullmatch(address):
        raise EmailAddressError(
            f"“{address[:80]}” does not look like an email address (like name@example.org)."
        )
    return address
