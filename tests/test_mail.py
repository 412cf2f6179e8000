"""paperfeed.mail against a real SMTP server (aiosmtpd) on loopback: plain, STARTTLS,
implicit TLS, AUTH, and the failures a misconfigured site meets."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime

import pytest

from paperfeed.config import Settings
from paperfeed.mail import Mailer, MailError, build_message, send_mail, unsubscribe_headers
from tests.conftest import FIXED_NOW
from tests.servers import HOST, LocalCA, SmtpServer, free_port

pytest_plugins = ["tests.servers"]

Factory = Callable[..., SmtpServer]


def test_plain_text_message(smtp_server: SmtpServer) -> None:
    message_id = send_mail(
        smtp_server.settings(), "reader@example.org", "Your papers", "Three new papers.\n"
    )

    [mail] = smtp_server.messages
    assert mail.mail_from == "noreply@paperfeed.test"
    assert mail.rcpt_tos == ["reader@example.org"]
    assert not mail.tls and mail.login is None
    assert mail.header("From") == "Paperfeed <noreply@paperfeed.test>"
    assert mail.header("To") == "reader@example.org"
    assert mail.subject == "Your papers"
    assert mail.header("Message-ID") == message_id
    assert message_id.startswith("<") and message_id.endswith("@paperfeed.test>")
    assert parsedate_to_datetime(mail.header("Date") or "") == FIXED_NOW
    assert mail.message.get_content_type() == "text/plain"
    assert mail.text == "Three new papers.\n"
    assert mail.html is None


def test_every_message_gets_its_own_message_id(smtp_server: SmtpServer) -> None:
    settings = smtp_server.settings()
    ids = {send_mail(settings, "a@example.org", "s", "t") for _ in range(3)}
    assert len(ids) == 3
    assert {m.header("Message-ID") for m in smtp_server.messages} == ids


def test_multipart_alternative_with_html_last(smtp_server: SmtpServer) -> None:
    html = "<p>Three <b>new</b> papers.</p>\n"
    send_mail(smtp_server.settings(), ["a@example.org", "b@example.org"], "s", "Three.\n", html)

    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["a@example.org", "b@example.org"]
    assert mail.header("To") == "a@example.org, b@example.org"
    assert mail.message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in mail.message.iter_parts()]
    assert parts == ["text/plain", "text/html"]  # clients show the last part they understand
    assert mail.text == "Three.\n"
    assert mail.html == html


def test_non_ascii_subject_body_and_sender_survive_intact(smtp_server: SmtpServer) -> None:
    settings = smtp_server.settings().model_copy(
        update={"mail_from": "Pâperfeed Ürbach <noreply@paperfeed.test>"}
    )
    # A long subject whose encoded words fold: the space between two of them must survive.
    subject = (
        "data — a résumé 日本語 日本語 papers cs.LG — data papers é cs.LG résumé the Déjà "
        "data data a naïve Ω — the Déjà a the Ω Über cs.LG a — Über Déjà"
    )
    text = "Ein Überblick: naïve Bayes, Ω(n log n), 日本語の論文.\n" + "long line " * 120 + "\n"
    html = "<p>Überblick — 日本語</p>\n"
    send_mail(settings, "reader@example.org", subject, text, html)

    [mail] = smtp_server.messages
    assert mail.raw.isascii(), "the message must be 7-bit clean for any server"
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 998
    assert mail.subject == subject
    assert mail.header("From") == "Pâperfeed Ürbach <noreply@paperfeed.test>"
    assert mail.text == text
    assert mail.html == html


def test_non_ascii_address_goes_out_with_smtputf8(smtp_server: SmtpServer) -> None:
    send_mail(smtp_server.settings(), "zoë@example.org", "Grüße", "Hallo Zoë\n")
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["zoë@example.org"]
    assert mail.header("To") == "zoë@example.org"
    assert mail.subject == "Grüße" and mail.text == "Hallo Zoë\n"


def test_long_ascii_subject_is_folded_not_mangled(smtp_server: SmtpServer) -> None:
    subject = "Your weekly papers: " + " ".join(f"paper{n}" for n in range(60))
    send_mail(smtp_server.settings(), "a@example.org", subject, "t")
    [mail] = smtp_server.messages
    assert mail.subject == subject
    assert b"=?" not in mail.raw.split(b"\r\n\r\n")[0]
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 78


def test_subject_is_one_line(smtp_server: SmtpServer) -> None:
    send_mail(smtp_server.settings(), "a@example.org", "A title\r\nBcc: victim@example.org", "t")
    [mail] = smtp_server.messages
    assert mail.subject == "A title Bcc: victim@example.org"
    assert mail.header("Bcc") is None
    assert mail.rcpt_tos == ["a@example.org"]


def test_one_click_unsubscribe_and_extra_headers(smtp_server: SmtpServer) -> None:
    url = "https://papers.example.org/unsubscribe?token=" + "Zm9v" * 40
    headers = {
        **unsubscribe_headers(url, "unsubscribe@papers.example.org"),
        "Reply-To": "editors@papers.example.org",
        "Auto-Submitted": "auto-generated",
        "X-Paperfeed-Digest": "weekly 2026-W47",
    }
    send_mail(smtp_server.settings(), "a@example.org", "Weekly digest", "t", headers=headers)

    [mail] = smtp_server.messages
    assert mail.header("List-Unsubscribe") == (f"<{url}>, <mailto:unsubscribe@papers.example.org>")
    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert mail.header("Reply-To") == "editors@papers.example.org"
    assert mail.header("Auto-Submitted") == "auto-generated"
    assert mail.header("X-Paperfeed-Digest") == "weekly 2026-W47"
    # Mail clients read the URL from the raw header: it must not become an encoded word.
    assert f"List-Unsubscribe: <{url}>".encode() in mail.raw


def test_extra_headers_replace_rather_than_duplicate() -> None:
    message = build_message(
        "a@paperfeed.test", "b@example.org", "s", "t", headers={"To": "c@x.org"}
    )
    assert message.get_all("To") == ["c@x.org"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "yes\r\nBcc: victim@example.org"},
        {"X-Evil": "yes\nBcc: victim@example.org"},
        {"Bad Name": "x"},
        {"Content-Type": "text/html"},
    ],
)
def test_header_injection_is_refused(headers: dict[str, str], smtp_server: SmtpServer) -> None:
    with pytest.raises(ValueError):
        send_mail(smtp_server.settings(), "a@example.org", "s", "t", headers=headers)
    assert smtp_server.messages == []


def test_settings_from_environment(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    send_mail(Settings(), "a@example.org", "from env", "t")
    assert [m.subject for m in smtp_server.wait_for(1)] == ["from env"]


# --- TLS ---------------------------------------------------------------------------------


def test_starttls(smtp_server_factory: Factory, tls_ca: LocalCA) -> None:
    server = smtp_server_factory(tls="starttls", require_starttls=True)
    send_mail(server.settings(), "a@example.org", "s", "t", ssl_context=tls_ca.client_context())
    [mail] = server.messages
    assert mail.tls


def test_starttls_checks_the_certificate(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(tls="starttls", require_starttls=True)
    with pytest.raises(MailError) as caught:
        send_mail(server.settings(), "a@example.org", "s", "t")  # default trust store
    message = str(caught.value)
    assert "certificate that is not trusted" in message and "PAPERFEED_SMTP_HOST" in message
    assert server.messages == []


def test_plain_client_against_a_server_that_requires_starttls(
    smtp_server_factory: Factory,
) -> None:
    server = smtp_server_factory(tls="starttls", require_starttls=True)
    settings = server.settings().model_copy(update={"smtp_tls": "none"})
    with pytest.raises(MailError) as caught:
        send_mail(settings, "a@example.org", "s", "t")
    assert "530" in str(caught.value) and "PAPERFEED_SMTP_TLS" in str(caught.value)
    assert server.messages == []


def test_starttls_against_a_server_without_it(smtp_server: SmtpServer, tls_ca: LocalCA) -> None:
    settings = smtp_server.settings().model_copy(update={"smtp_tls": "starttls"})
    with pytest.raises(MailError) as caught:
        send_mail(settings, "a@example.org", "s", "t", ssl_context=tls_ca.client_context())
    assert "STARTTLS" in str(caught.value) and "PAPERFEED_SMTP_TLS" in str(caught.value)


def test_implicit_tls(smtp_server_factory: Factory, tls_ca: LocalCA) -> None:
    server = smtp_server_factory(tls="implicit")
    send_mail(server.settings(), "a@example.org", "s", "t", ssl_context=tls_ca.client_context())
    [mail] = server.messages
    assert mail.tls


def test_implicit_tls_against_a_plain_server(smtp_server: SmtpServer, tls_ca: LocalCA) -> None:
    settings = smtp_server.settings().model_copy(update={"smtp_tls": "implicit"})
    started = time.monotonic()
    with pytest.raises(MailError) as caught:
        send_mail(settings, "a@example.org", "s", "t", ssl_context=tls_ca.client_context())
    assert time.monotonic() - started < 5
    assert "TLS" in str(caught.value) and "PAPERFEED_SMTP_TLS" in str(caught.value)


def test_plain_client_against_an_implicit_tls_server(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(tls="implicit")
    settings = server.settings().model_copy(update={"smtp_tls": "none"})
    with pytest.raises(MailError) as caught:
        send_mail(settings, "a@example.org", "s", "t", timeout=0.3)
    assert "did not answer within 0.3 s" in str(caught.value)
    assert "implicit-TLS port" in str(caught.value)


# --- AUTH --------------------------------------------------------------------------------

USERS = {"alice": "correct horse battery staple"}


def test_login_over_starttls(smtp_server_factory: Factory, tls_ca: LocalCA) -> None:
    server = smtp_server_factory(tls="starttls", require_starttls=True, users=USERS)
    settings = server.settings(user="alice", password=USERS["alice"])
    send_mail(settings, "a@example.org", "s", "t", ssl_context=tls_ca.client_context())
    [mail] = server.messages
    assert mail.tls and mail.login == "alice"


def test_login_over_implicit_tls(smtp_server_factory: Factory, tls_ca: LocalCA) -> None:
    # aiosmtpd counts only STARTTLS as TLS when deciding to offer AUTH; the connection is
    # encrypted from the first byte here.
    server = smtp_server_factory(tls="implicit", users=USERS, auth_require_tls=False)
    settings = server.settings(user="alice", password=USERS["alice"])
    send_mail(settings, "a@example.org", "s", "t", ssl_context=tls_ca.client_context())
    [mail] = server.messages
    assert mail.tls and mail.login == "alice"


def test_wrong_password(smtp_server_factory: Factory, tls_ca: LocalCA) -> None:
    server = smtp_server_factory(tls="starttls", users=USERS)
    settings = server.settings(user="alice", password="nope")
    with pytest.raises(MailError) as caught:
        send_mail(settings, "a@example.org", "s", "t", ssl_context=tls_ca.client_context())
    message = str(caught.value)
    assert "'alice'" in message and "535" in message
    assert "PAPERFEED_SMTP_USER" in message and "PAPERFEED_SMTP_PASSWORD" in message
    assert "nope" not in message
    assert server.messages == []


def test_no_login_in_the_clear(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(tls="starttls", users=USERS)
    settings = server.settings(user="alice", password=USERS["alice"]).model_copy(
        update={"smtp_tls": "none"}
    )
    with pytest.raises(MailError) as caught:
        send_mail(settings, "a@example.org", "s", "t")
    assert "offers no login (AUTH)" in str(caught.value)
    assert "PAPERFEED_SMTP_TLS" in str(caught.value)
    assert server.messages == []


# --- connection failures -----------------------------------------------------------------


def test_connection_refused() -> None:
    port = free_port()  # nothing listens there
    settings = Settings(smtp_host=HOST, smtp_port=port)
    started = time.monotonic()
    with pytest.raises(MailError) as caught:
        send_mail(settings, "a@example.org", "s", "t")
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert f"{HOST}:{port}" in message and "refused" in message.lower()
    assert "PAPERFEED_SMTP_HOST" in message and "PAPERFEED_SMTP_PORT" in message


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word (a wrong port or TLS mode)."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_server_that_never_answers_times_out(silent_port: int) -> None:
    settings = Settings(smtp_host=HOST, smtp_port=silent_port)
    started = time.monotonic()
    with pytest.raises(MailError) as caught:
        send_mail(settings, "a@example.org", "s", "t", timeout=0.3)
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 2
    assert "did not answer within 0.3 s" in str(caught.value)


# --- Mailer: many messages ----------------------------------------------------------------


def test_mailer_sends_many_messages_on_one_connection(smtp_server: SmtpServer) -> None:
    with Mailer(smtp_server.settings()) as mailer:
        for n in range(20):
            mailer.send(f"reader{n}@example.org", f"Digest {n}", "t")
    assert [m.subject for m in smtp_server.messages] == [f"Digest {n}" for n in range(20)]
    assert len({m.peer for m in smtp_server.messages}) == 1


def test_mailer_renews_the_connection_every_n_messages(smtp_server: SmtpServer) -> None:
    with Mailer(smtp_server.settings(), messages_per_connection=2) as mailer:
        for n in range(5):
            mailer.send("a@example.org", f"{n}", "t")
    peers = [m.peer for m in smtp_server.messages]
    assert len(set(peers)) == 3
    assert peers[0] == peers[1] != peers[2] == peers[3] != peers[4]


@pytest.mark.parametrize("say_421", [True, False], ids=["421-then-close", "silent-close"])
def test_mailer_reconnects_when_the_server_dropped_the_connection(
    smtp_server_factory: Factory, say_421: bool
) -> None:
    server = smtp_server_factory(idle_timeout=0.2, say_421=say_421)
    with Mailer(server.settings()) as mailer:
        mailer.send("a@example.org", "before", "t")
        time.sleep(0.5)  # the server closes the idle connection
        mailer.send("a@example.org", "after", "t")
    assert [m.subject for m in server.messages] == ["before", "after"]
    assert server.messages[0].peer != server.messages[1].peer


def test_mailer_reconnects_over_starttls_with_login(
    smtp_server_factory: Factory, tls_ca: LocalCA
) -> None:
    server = smtp_server_factory(tls="starttls", users=USERS, idle_timeout=0.2)
    settings = server.settings(user="alice", password=USERS["alice"])
    with Mailer(settings, ssl_context=tls_ca.client_context()) as mailer:
        mailer.send("a@example.org", "before", "t")
        time.sleep(0.5)
        mailer.send("a@example.org", "after", "t")
    assert [(m.subject, m.tls, m.login) for m in server.messages] == [
        ("before", True, "alice"),
        ("after", True, "alice"),
    ]


def test_refused_recipient_fails_one_message_not_the_run(smtp_server: SmtpServer) -> None:
    smtp_server.refused_recipients.add("gone@example.org")
    with Mailer(smtp_server.settings()) as mailer:
        mailer.send("a@example.org", "first", "t")
        with pytest.raises(MailError) as caught:
            mailer.send("gone@example.org", "lost", "t")
        mailer.send("b@example.org", "second", "t")
    assert "gone@example.org" in str(caught.value) and "550" in str(caught.value)
    assert [m.subject for m in smtp_server.messages] == ["first", "second"]
    assert len({m.peer for m in smtp_server.messages}) == 1


def test_a_partly_refused_message_reaches_the_others(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_server.refused_recipients.add("gone@example.org")
    send_mail(smtp_server.settings(), ["a@example.org", "gone@example.org"], "s", "t")
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["a@example.org"]
    assert "refused gone@example.org: 550" in caplog.text


def test_mailer_reports_a_server_that_went_away(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory()
    mailer = Mailer(server.settings())
    mailer.send("a@example.org", "one", "t")
    server.stop()
    with pytest.raises(MailError) as caught:
        mailer.send("a@example.org", "two", "t")
    assert "PAPERFEED_SMTP_HOST" in str(caught.value)
    mailer.close()
