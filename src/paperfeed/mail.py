"""Sending mail through the configured SMTP server.

`send_mail` sends one message (a verification or reset email); `Mailer` keeps one
connection open for many (a digest run), reconnecting when the server drops it. Every
failure is a `MailError` whose message names the setting to check.
"""

from __future__ import annotations

import email
import logging
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from types import TracebackType
from typing import NoReturn, Protocol

from paperfeed import clock
from paperfeed.config import Settings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
# Headers set from raw, already-encoded text are written as they are (see `_raw_header`).
_POLICY = policy.default.clone(refold_source="none")
_REPLACEABLE = {"from", "to", "subject", "date", "message-id"}
_MIME_HEADERS = {"mime-version", "content-type", "content-transfer-encoding"}


class MessageSender(Protocol):
    """What sends a batch of built messages: a `Mailer`, or the outbox's `KeepingMailer`."""

    def send_message(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


class MailError(RuntimeError):
    """Mail could not be sent; the message says what to check."""


def unsubscribe_headers(url: str, mailto: str | None = None) -> dict[str, str]:
    """List-Unsubscribe headers with RFC 8058 one-click: mail clients POST to `url`."""
    targets = [f"<{url}>"] + ([f"<mailto:{mailto}>"] if mailto else [])
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def sender_domain(mail_from: str) -> str:
    """The domain of the From address, for Message-IDs that are unique to this site."""
    address = parseaddr(mail_from)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    return domain or "localhost"


def build_message(
    mail_from: str,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A complete message: text only, or multipart/alternative with an HTML part last."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = mail_from
    message["To"] = ", ".join([to] if isinstance(to, str) else to)
    # CPython's folder can drop the space between two encoded words of a long non-ASCII
    # subject; `Header` encodes and folds it correctly.
    subject = " ".join(subject.split())
    charset = "us-ascii" if subject.isascii() else "utf-8"
    message.set_raw("Subject", Header(subject, charset, header_name="Subject").encode())
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=sender_domain(mail_from))
    for name, value in (headers or {}).items():
        if name.lower() in _MIME_HEADERS:
            raise ValueError(f"header {name} is set from the parts")
        if name.lower() in _REPLACEABLE:
            del message[name]
        message.set_raw(name, _raw_header(name, value))
    # Quoted-printable keeps any text 7-bit clean for servers without 8BITMIME.
    message.set_content(text, cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def parse_message(raw: str) -> EmailMessage:
    """A message stored as text (the outbox), read back with the policy it was built with."""
    return email.message_from_string(raw, _class=EmailMessage, policy=_POLICY)


def _raw_header(name: str, value: str) -> str:
    """ASCII values as they are (a long one-click URL must not become an encoded word)."""
    if not name.isascii() or not name.isprintable() or ":" in name or " " in name:
        raise ValueError(f"bad header name {name!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} may not contain line breaks")
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode()


def send_mail(
    settings: Settings,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """Send one message on a fresh connection and return its Message-ID."""
    with Mailer(settings, ssl_context=ssl_context, timeout=timeout) as mailer:
        return mailer.send(to, subject, text, html, headers)


class Mailer:
    """One SMTP connection reused for many messages, reopened when it fails.

    Servers close idle connections and often cap messages per connection, so the connection
    is opened lazily, renewed every `messages_per_connection` messages, and a message that
    meets a dropped connection is sent again once on a new one.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        messages_per_connection: int = 100,
    ) -> None:
        self.settings = settings
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.messages_per_connection = messages_per_connection
        self._client: smtplib.SMTP | None = None
        self._sent_on_connection = 0

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(
        self,
        to: str | Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Build and send a message; return its Message-ID."""
        message = build_message(self.settings.mail_from, to, subject, text, html, headers)
        self.send_message(message)
        return str(message["Message-ID"])

    def send_message(self, message: EmailMessage) -> None:
        if self._client is not None and self._sent_on_connection >= self.messages_per_connection:
            self.close()
        reused = self._client is not None
        try:
            self._send(message)
            return
        except (smtplib.SMTPException, OSError) as exc:
            if not (reused and _connection_lost(exc)):
                self._fail(exc)
        # The server dropped a connection we kept open (idle timeout, restart): once more.
        self.close()
        try:
            self._send(message)
        except (smtplib.SMTPException, OSError) as exc:
            self._fail(exc)

    def _fail(self, exc: smtplib.SMTPException | OSError) -> NoReturn:
        refused = isinstance(exc, smtplib.SMTPRecipientsRefused) or (
            isinstance(exc, smtplib.SMTPResponseException) and not _connection_lost(exc)
        )
        if not refused or self._client is None or self._client.sock is None:
            self.close()
        # A refused message leaves the connection good for the next one.
        raise MailError(self._describe(exc)) from exc

    def close(self) -> None:
        client, self._client = self._client, None
        self._sent_on_connection = 0
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    def _send(self, message: EmailMessage) -> None:
        if self._client is None:
            self._client = self._connect()
        refused = self._client.send_message(message)
        self._sent_on_connection += 1
        for address, (code, reply) in refused.items():
            log.warning(
                "%s refused %s: %s", self.settings.smtp_host, address, _reply_of(code, reply)
            )

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = self.ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        if s.smtp_tls == "implicit":
            client = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=self.timeout, context=context
            )
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
        try:
            if s.smtp_tls == "starttls":
                client.starttls(context=context)
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _describe(self, exc: BaseException) -> str:
        """Say what failed and which setting is the likely cause."""
        s = self.settings
        where = f"SMTP server {s.smtp_host}:{s.smtp_port} (PAPERFEED_SMTP_TLS={s.smtp_tls})"
        tls_hint = (
            "check PAPERFEED_SMTP_TLS (implicit is usually port 465, starttls port 587, "
            "none port 25)"
        )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return (
                f"{where} rejected the login for user {s.smtp_user!r} ({_reply(exc)}): "
                "check PAPERFEED_SMTP_USER and PAPERFEED_SMTP_PASSWORD"
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError) and "STARTTLS" in str(exc):
            return f"{where} does not offer STARTTLS: {tls_hint}"
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return (
                f"{where} offers no login (AUTH) on this connection, and many servers offer "
                f"it only after TLS: {tls_hint}, or unset PAPERFEED_SMTP_USER if the server "
                "needs no login"
            )
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = ", ".join(
                f"{addr} ({_reply_of(code, msg)})" for addr, (code, msg) in exc.recipients.items()
            )
            return f"{where} refused the recipient(s) {refused}"
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return (
                f"{where} refused the sender {exc.sender!r} ({_reply(exc)}): check "
                "PAPERFEED_MAIL_FROM, PAPERFEED_SMTP_TLS and PAPERFEED_SMTP_USER"
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"{where} refused the message ({_reply(exc)})"
        if isinstance(exc, ssl.SSLCertVerificationError):
            return (
                f"{where} presented a certificate that is not trusted ({exc.verify_message}): "
                "check that PAPERFEED_SMTP_HOST is the name in the server's certificate and "
                "that its CA is in the system's trust store"
            )
        if isinstance(exc, ssl.SSLError):
            return f"TLS with {where} failed ({exc.reason or exc}): {tls_hint}"
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            return (
                f"{where} did not answer within {self.timeout:g} s: check PAPERFEED_SMTP_HOST, "
                f"PAPERFEED_SMTP_PORT and PAPERFEED_SMTP_TLS (an implicit-TLS port waits "
                "silently for a TLS handshake)"
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return f"{where} closed the connection ({exc or 'no reason given'}): {tls_hint}"
        if isinstance(exc, OSError):
            return (
                f"cannot connect to {where}: {exc.strerror or exc}; check PAPERFEED_SMTP_HOST "
                "and PAPERFEED_SMTP_PORT, and that the server is running"
            )
        return f"{where}: {exc}"


def _connection_lost(exc: BaseException) -> bool:
    """Closed under us, or 421: the server is closing the channel (how Postfix times out)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _reply_of(exc.smtp_code, exc.smtp_error)


def _reply_of(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def classify(cause: BaseException | None) -> str:
    """permanent (a bounce), fatal (fix the settings) or transient (try again)."""
    if isinstance(cause, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in cause.recipients.values()]
        return "permanent" if codes and all(code >= 500 for code in codes) else "transient"
    if isinstance(cause, smtplib.SMTPSenderRefused | smtplib.SMTPAuthenticationError):
        return "fatal" if cause.smtp_code >= 500 else "transient"
    if isinstance(cause, smtplib.SMTPNotSupportedError | ssl.SSLError):
        return "fatal"
    if isinstance(cause, smtplib.SMTPResponseException):
        return "permanent" if cause.smtp_code >= 500 else "transient"
    return "transient"
