"""Signed, expiring tokens for links sent by email (verify address, reset password).

Stateless: the token carries the user id, the purpose and an expiry, signed with HMAC-SHA256
under the site's secret key. A reset token also binds a fragment of the current password
hash, so it stops working once the password changes (one use).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.errors import UserError


class TokenError(UserError):
    """A token that is malformed, forged, expired or for another purpose."""


def secret_key(settings: Settings) -> bytes:
    """The configured key, or one generated once and kept in the data dir (single node).

    Several worker processes may ask at the same moment on first start: the key is written
    to a private temporary file and linked into place, so every process reads the one
    complete key that won, never a half-written or empty file.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # atomic; fails if another process got there first
        finally:
            os.unlink(tmp)
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(settings: Settings, purpose: str, user_id: int, max_age: int, bind: str = "") -> str:
    payload = {
        "u": user_id,
        "p": purpose,
        "e": int(clock.now().timestamp()) + max_age,
        "b": hashlib.sha256(bind.encode()).hexdigest()[:16],
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(secret_key(settings), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def read_token(settings: Settings, token: str, purpose: str) -> tuple[int, str]:
    """Return (user id, bind fingerprint) or raise TokenError."""
    try:
        body, mac = token.split(".", 1)
        expected = hmac.new(secret_key(settings), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise TokenError("This link is not valid.")
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError):
        raise TokenError("This link is not valid.") from None
    if payload.get("p") != purpose:
        raise TokenError("This link is not valid.")
    if payload.get("e", 0) < clock.now().timestamp():
        raise TokenError("This link has expired. Ask for a new one.")
    return int(payload["u"]), str(payload.get("b", ""))


def bind_fingerprint(bind: str) -> str:
    return hashlib.sha256(bind.encode()).hexdigest()[:16]
