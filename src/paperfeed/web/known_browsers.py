"""Browsers an account has logged in from: the owner's way past a log-in lockout.

After a successful log-in (or a password reset, which proves the address) the browser gets
a signed `pf_device` cookie naming the account and a random device id. A log-in attempt
for that account from that browser is counted against the device's own allowance instead
of the account's shared cap on failed attempts, so someone guessing from many addresses
can use up the cap without locking out the owner (OWASP's "device cookies").
"""

from __future__ import annotations

import secrets

from fastapi import Request, Response

from paperfeed.community.tokens import TokenError, make_token, read_token
from paperfeed.web.deps import get_settings
from paperfeed.web.security import set_lax_cookie

DEVICE_COOKIE = "pf_device"
DEVICE_DAYS = 365


def known_device(request: Request, user_id: int | None) -> str | None:
    """An id of this browser if it has logged in to `user_id` before, else None."""
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    if user_id is None or not cookie or len(cookie) > 300:
        return None
    try:
        owner, device = read_token(get_settings(request), cookie, "device")
    except TokenError:
        return None
    return device if owner == user_id else None


def remember_device(request: Request, response: Response, user_id: int) -> None:
    """Mark this browser as one the account logs in from (kept for a year)."""
    device = secrets.token_urlsafe(12)
    token = make_token(get_settings(request), "device", user_id, DEVICE_DAYS * 86400, bind=device)
    set_lax_cookie(request, response, DEVICE_COOKIE, token, DEVICE_DAYS * 86400)
