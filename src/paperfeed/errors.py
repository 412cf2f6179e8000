"""The one error a service raises when a person asked for something that cannot be done.

`UserError` carries the HTTP status that answers it and a message written for people
("There is no paper with id ..."). Services raise it (or a subclass named for their
feature, so callers can still catch one feature's refusals); the web layer turns any of
them into an error page or `{"error": ...}` JSON in one handler (`web/responses.py`), and
the CLI prints the message and exits non-zero. Routes catch it only to show a form again
with the message beside it.

It is a `ValueError`, as the per-feature errors it replaced were.
"""

from __future__ import annotations


class UserError(ValueError):
    """Refused, for a reason the message gives; `status` is the HTTP answer."""

    status = 400

    def __init__(
        self, message: str, status: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.headers = headers

    @property
    def message(self) -> str:
        return str(self)


class NotFound(UserError):
    status = 404


class Forbidden(UserError):
    status = 403


class Conflict(UserError):
    status = 409


__all__ = ["Conflict", "Forbidden", "NotFound", "UserError"]
