"""Real servers on loopback for tests: SMTP (aiosmtpd), HTTP, and arXiv's query API.

Use as a pytest plugin (`pytest_plugins = ["tests.servers"]`) to get the fixtures:

- `smtp_server`: a plain SMTP server that keeps every message it accepts
  (`smtp_server.messages`, `smtp_server.wait_for(n)`); `smtp_server.settings(base)` and
  `smtp_server.env()` point paperfeed at it.
- `smtp_server_factory`: the same with STARTTLS, implicit TLS or AUTH, certificates from
  `tls_ca` (`tls_ca.client_context()` trusts them).
- `arxiv_api`: arXiv's query API for `id_list` lookups, answering from
  tests/ingest/data/arxiv_api_*.xml, with scripted faults.
- `oai_pmh`: arXiv's OAI-PMH `ListRecords` with resumption tokens, answering from
  tests/ingest/data/oai_*_records.xml, with scripted faults and OAI errors.
- `silent_server`: a service that is down the hard way: it accepts connections and never
  answers (`silent_server.url`, `silent_server.connections`). `refused_url()` gives an
  address where nothing listens, so connections are refused at once.

Test modules also import the classes from here, before pytest loads it as a plugin, hence
PYTEST_DONT_REWRITE (it has no asserts worth rewriting).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from paperfeed.config import Settings

HOST = "127.0.0.1"
DATA = Path(__file__).parent / "ingest" / "data"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# --- TLS ---------------------------------------------------------------------------------


class LocalCA:
    """A throwaway certificate authority and a server certificate for 127.0.0.1."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert(HOST, "localhost")

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture(scope="session")
def tls_ca() -> LocalCA:
    return LocalCA()


# --- SMTP --------------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    """One accepted message: the SMTP envelope, how it came, and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    peer: tuple[str, int]
    tls: bool
    login: str | None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)

    @property
    def text(self) -> str:
        return self._body("plain") or ""

    @property
    def html(self) -> str | None:
        return self._body("html")

    def _body(self, subtype: str) -> str | None:
        """A body part's text, with the wire's CRLF line ends read as newlines."""
        part = self.message.get_body((subtype,))
        if part is None:
            return None
        content: str = part.get_content()  # type: ignore[attr-defined]
        return content.replace("\r\n", "\n")


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.arrived = threading.Condition()
        self.refused: set[str] = set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        transport = server.transport
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            raw=raw,
            message=BytesParser(policy=policy.default).parsebytes(raw),  # type: ignore[arg-type]
            peer=tuple(session.peer),  # type: ignore[arg-type]
            tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
            login=session.auth_data if isinstance(session.auth_data, str) else None,
        )
        with self.arrived:
            self.messages.append(mail)
            self.arrived.notify_all()
        return "250 2.0.0 Message accepted for delivery"


SmtpTls = Literal["none", "starttls", "implicit"]


class _PostfixLikeSMTP(SMTP):
    """Says 421 before dropping an idle connection, as Postfix and most servers do."""

    def _timeout_cb(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"421 4.4.2 mail.paperfeed.test Error: timeout exceeded\r\n")
        super()._timeout_cb()


class _Controller(Controller):
    def __init__(self, *args: Any, say_421: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.say_421 = say_421

    def factory(self) -> SMTP:
        smtp_class = _PostfixLikeSMTP if self.say_421 else SMTP
        return smtp_class(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts.

    `tls` is what the server speaks: plain, STARTTLS offered (`require_starttls` refuses
    mail without it) or implicit TLS (SMTPS). `users` turns on AUTH LOGIN/PLAIN; like real
    servers, AUTH is offered only over TLS unless `auth_require_tls` is False. The server
    drops a connection idle for `idle_timeout` seconds, saying 421 first unless `say_421`
    is False.
    """

    def __init__(
        self,
        *,
        tls: SmtpTls = "none",
        ca: LocalCA | None = None,
        require_starttls: bool = False,
        users: dict[str, str] | None = None,
        auth_require_tls: bool = True,
        idle_timeout: float = 300,
        say_421: bool = True,
    ) -> None:
        if tls != "none" and ca is None:
            raise ValueError("a TLS server needs a LocalCA")
        self.tls = tls
        self.ca = ca
        self.users = users
        self.host = HOST
        self.port = free_port()
        self._recorder = _Recorder()
        self.running = False
        kwargs: dict[str, Any] = {
            "server_hostname": "mail.paperfeed.test",
            "timeout": idle_timeout,
            "auth_require_tls": auth_require_tls,
        }
        if tls == "starttls" and ca is not None:
            kwargs.update(tls_context=ca.server_context(), require_starttls=require_starttls)
        if tls == "implicit" and ca is not None:
            kwargs["ssl_context"] = ca.server_context()
        if users is not None:
            kwargs["authenticator"] = self._authenticate
        self.controller = _Controller(
            self._recorder, hostname=self.host, port=self.port, say_421=say_421, **kwargs
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self.users is None:
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        if self.users.get(login) != password:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=login)

    def start(self) -> SmtpServer:
        self.controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.controller.stop()

    @property
    def messages(self) -> list[ReceivedMail]:
        return self._recorder.messages

    @property
    def refused_recipients(self) -> set[str]:
        """Addresses answered with 550, as for a mailbox that does not exist."""
        return self._recorder.refused

    def clear(self) -> None:
        with self._recorder.arrived:
            self._recorder.messages.clear()

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedMail]:
        """Block until `count` messages arrived (mail sent by another process)."""
        with self._recorder.arrived:
            if not self._recorder.arrived.wait_for(
                lambda: len(self._recorder.messages) >= count, timeout
            ):
                raise AssertionError(
                    f"expected {count} message(s) within {timeout} s, "
                    f"got {len(self._recorder.messages)}"
                )
            return list(self._recorder.messages)

    def fields(self, user: str | None = None, password: str | None = None) -> dict[str, Any]:
        """The Settings fields that point at this server."""
        return {
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_tls": self.tls,
            "smtp_user": user,
            "smtp_password": password,
            "mail_from": "Paperfeed <noreply@paperfeed.test>",
        }

    def settings(
        self, base: Settings | None = None, user: str | None = None, password: str | None = None
    ) -> Settings:
        values = self.fields(user, password)
        return base.model_copy(update=values) if base is not None else Settings(**values)

    def env(self) -> dict[str, str]:
        """PAPERFEED_* variables for a server process (a live site in browser tests)."""
        return {
            f"PAPERFEED_{name.upper()}": str(value)
            for name, value in self.fields().items()
            if value is not None
        }


class FaultySmtpServer(SmtpServer):
    """An SmtpServer that answers scripted failures, for retry and bounce tests.

    `fail_next(code, n)` makes the next `n` DATA commands answer `code` (e.g. 451 or 554)
    instead of accepting; `bounce` holds addresses refused with 550 at RCPT. `accepted`
    counts accepted messages, and `on_accept(count)` runs after each one (a test can kill
    a sending process from there).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._faults: deque[str] = deque()
        self.on_accept: Callable[[int], None] | None = None
        recorder = self._recorder
        accept = recorder.handle_DATA

        async def handle_data(server: SMTP, session: Session, envelope: Envelope) -> str:
            if self._faults:
                return self._faults.popleft()
            reply = await accept(server, session, envelope)
            if self.on_accept is not None:
                self.on_accept(len(recorder.messages))
            return reply

        recorder.handle_DATA = handle_data  # type: ignore[method-assign]

    def fail_next(self, code: int, count: int = 1) -> None:
        text = "Try again later" if code < 500 else "Message refused"
        self._faults.extend([f"{code} {code // 100}.0.0 {text}"] * count)

    @property
    def bounce(self) -> set[str]:
        return self._recorder.refused


@pytest.fixture
def faulty_smtp_server() -> Iterator[FaultySmtpServer]:
    server = FaultySmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server_factory(tls_ca: LocalCA) -> Iterator[Callable[..., SmtpServer]]:
    started: list[SmtpServer] = []

    def start(**kwargs: Any) -> SmtpServer:
        if kwargs.get("tls", "none") != "none":
            kwargs.setdefault("ca", tls_ca)
        server = SmtpServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- HTTP --------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float  # time.monotonic() when the request line arrived

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (to provoke client timeouts)
    chunked: bool = False  # sent in chunks without a Content-Length, as streamed answers are


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._answer()

    def _answer(self) -> None:
        arrived = time.monotonic()
        url = urlsplit(self.path)
        request = Request(
            self.command,
            url.path,
            parse_qs(url.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            arrived,
        )
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(request)
        response = owner.handler(request)
        if response.delay and owner.stopping.wait(response.delay):
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(response.body), 65536):
                    chunk = response.body[start : start + 65536]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HttpServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here


class HttpServer:
    """A real threaded HTTP/1.1 server on 127.0.0.1; `handler` answers each request."""

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = _Server((HOST, 0), _Handler)
        self._server.owner = self
        self.port = int(self._server.server_address[1])
        self.url = f"http://{HOST}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class SilentServer:
    """Accepts every connection and never answers: a remote service that hangs."""

    def __init__(self) -> None:
        self._socket = socket.create_server((HOST, 0))
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://{HOST}:{self.port}/api/query"
        self.connections = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed by stop()
                return
            self.connections += 1
            self._held.append(connection)  # held open, never read from or written to

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        # shutdown() wakes the accept() blocked in the other thread; close() alone does not
        # on Linux, and the join below would wait its full 5 s.
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        for connection in self._held:
            connection.close()
        self._thread.join(5)


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer().start()
    yield server
    server.stop()


def refused_url() -> str:
    """An address on loopback where nothing listens: connecting is refused at once."""
    return f"http://{HOST}:{free_port()}/api/query"


# --- arXiv query API ---------------------------------------------------------------------

_ENTRY = re.compile(r"<entry>.*?</entry>", re.S)
_ENTRY_ID = re.compile(r"<id>\s*https?://arxiv\.org/abs/(?P<id>\S+?)v(?P<v>\d+)\s*</id>")
_NEW_ID = re.compile(r"^(?P<base>\d{2}(?P<month>\d{2})\.\d{4,5})(?:v(?P<v>\d+))?$")
_OLD_ID = re.compile(r"^(?P<base>[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<v>\d+))?$")

FEED_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <link href="http://arxiv.org/api/query?search_query%3D%26id_list%3D{ids}" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list={ids}&amp;start={start}&amp;max_results={max}</title>
  <id>http://arxiv.org/api/paperfeedtest</id>
  <updated>2024-08-03T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{max}</opensearch:itemsPerPage>
"""  # noqa: E501

ERROR_ENTRY = """  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_{id}</id>
    <title>Error</title>
    <summary>incorrect id format for {id}</summary>
    <updated>2024-08-03T00:00:00-04:00</updated>
    <link href="http://arxiv.org/api/errors#incorrect_id_format_for_{id}" rel="alternate" type="text/html"/>
    <author>
      <name>arXiv api core</name>
    </author>
  </entry>
"""  # noqa: E501

GENERATED_ENTRY = """  <entry>
    <id>http://arxiv.org/abs/{id}v1</id>
    <updated>2024-08-01T17:01:29Z</updated>
    <published>2024-08-01T17:01:29Z</published>
    <title>Generated paper {id}</title>
    <summary>  An abstract for {id}.
</summary>
    <author>
      <name>Ada Lovelace</name>
    </author>
    <link href="http://arxiv.org/abs/{id}v1" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{id}v1" rel="related" type="application/pdf"/>
    <arxiv:primary_category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
"""


class FakeArxivApi:
    """arXiv's query API for `id_list` lookups, over real HTTP on loopback.

    Like arXiv it answers a malformed id (here also a month outside 01-12) with HTTP 400
    and one error entry, leaves unknown ids out of the feed while `totalResults` still
    counts them, and returns at most `max_results` entries (default 10). Entries come from
    the recorded and written responses in tests/ingest/data; with `generate` set, any other
    well-formed id gets a made-up entry. `faults` are answered first, one per request;
    `canned` maps an `id_list` value to a response body served as it is.
    """

    def __init__(self, files: list[Path] | None = None) -> None:
        self.entries: dict[tuple[str, int], str] = {}
        for path in files if files is not None else sorted(DATA.glob("arxiv_api_*.xml")):
            for block in _ENTRY.findall(path.read_text(encoding="utf-8")):
                match = _ENTRY_ID.search(block)
                if match:
                    self.entries[(match["id"], int(match["v"]))] = block
        self.generate = False
        self.faults: deque[Response] = deque()
        self.canned: dict[str, tuple[int, bytes]] = {}
        self.http = HttpServer(self)

    @property
    def url(self) -> str:
        return f"{self.http.url}/api/query"

    @property
    def requests(self) -> list[Request]:
        return self.http.requests

    def start(self) -> FakeArxivApi:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    def __call__(self, request: Request) -> Response:
        if request.path != "/api/query":
            return Response(404, b"not found")
        if self.faults:
            return self.faults.popleft()
        id_list = request.param("id_list") or ""
        if id_list in self.canned:
            status, body = self.canned[id_list]
            return Response(status, body, {"Content-Type": "application/atom+xml"})
        ids = [i.strip() for i in id_list.split(",") if i.strip()]
        start = int(request.param("start") or 0)
        limit = int(request.param("max_results") or 10)
        for raw in ids:
            if self._malformed(raw):
                head = FEED_HEAD.format(ids=",".join(ids), start=start, max=1, total=1)
                body = head + ERROR_ENTRY.format(id=raw) + "</feed>\n"
                return Response(400, body.encode(), {"Content-Type": "application/atom+xml"})
        head = FEED_HEAD.format(ids=",".join(ids), start=start, max=limit, total=len(ids))
        entries = [e for e in (self._entry(raw) for raw in ids) if e is not None]
        body = head + "".join(entries[start : start + limit]) + "</feed>\n"
        return Response(200, body.encode(), {"Content-Type": "application/atom+xml"})

    @staticmethod
    def _malformed(raw: str) -> bool:
        new = _NEW_ID.match(raw)
        if new:
            return not 1 <= int(new["month"]) <= 12
        return _OLD_ID.match(raw) is None

    def _entry(self, raw: str) -> str | None:
        match = _NEW_ID.match(raw) or _OLD_ID.match(raw)
        assert match is not None
        base, version = match["base"], match["v"]
        archive, slash, number = base.partition("/")
        if slash:
            base = f"{archive.split('.')[0]}/{number}"
        known = sorted(v for b, v in self.entries if b == base)
        if known:
            wanted = int(version) if version else known[-1]
            return self.entries.get((base, wanted))
        if self.generate and not version:
            return GENERATED_ENTRY.format(id=base)
        return None


@pytest.fixture
def arxiv_api() -> Iterator[FakeArxivApi]:
    api = FakeArxivApi().start()
    yield api
    api.stop()


# --- arXiv OAI-PMH -----------------------------------------------------------------------

_OAI_RECORD = re.compile(r"<record>.*?</record>", re.S)
_OAI_IDENTIFIER = re.compile(r"<identifier>oai:arXiv\.org:(?P<id>\S+?)</identifier>")
_OAI_DATESTAMP = re.compile(r"<datestamp>(?P<day>[\d-]+)</datestamp>")
_OAI_SET = re.compile(r"<setSpec>(?P<set>[^<]+)</setSpec>")
_OAI_PREFIX = re.compile(r"<(?P<prefix>arXivRaw|arXiv) xmlns=")

OAI_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">
<responseDate>{now}</responseDate>
<request{attrs}>http://{host}/oai</request>
"""  # noqa: E501

OAI_RAW_RECORD = """<record>
<header>
<identifier>oai:arXiv.org:{id}</identifier>
<datestamp>{datestamp}</datestamp>
<setSpec>{set}</setSpec>
</header>
<metadata>
<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://arxiv.org/OAI/arXivRaw/ http://arxiv.org/OAI/arXivRaw.xsd">
<id>{id}</id><submitter>Ada Lovelace</submitter>{versions}<title>{title}</title><authors>{authors}</authors><categories>{categories}</categories><license>http://creativecommons.org/licenses/by/4.0/</license><abstract>  {abstract}
</abstract></arXivRaw>
</metadata>
</record>"""  # noqa: E501


@dataclass
class OaiRecord:
    arxiv_id: str
    prefix: str
    datestamp: str
    sets: list[str]
    xml: str


class FakeOaiPmh:
    """arXiv's OAI-PMH interface for `ListRecords`, over real HTTP on loopback.

    Records come from tests/ingest/data/oai_*.xml (and `add`), selected like arXiv does by
    `metadataPrefix`, `from`/`until` (header datestamps, inclusive) and `set` (a setSpec
    or its prefix: `physics` matches `physics:hep-ph`), `page_size` per answer with a
    `resumptionToken` carrying `completeListSize` and `cursor`, empty on the last page.
    OAI errors come as HTTP 200 with `<error code=...>`: badVerb, badArgument,
    cannotDisseminateFormat, badResumptionToken (unknown or `expire_tokens()`),
    noRecordsMatch. `faults` are answered first, one per request.
    """

    def __init__(self, files: list[Path] | None = None, page_size: int = 4) -> None:
        self.records: list[OaiRecord] = []
        for path in files if files is not None else sorted(DATA.glob("oai_*_records.xml")):
            for block in _OAI_RECORD.findall(path.read_text(encoding="utf-8")):
                self.add(block, prefix=None)
        self.page_size = page_size
        self.formats = {"arXiv", "arXivRaw"}
        self.faults: deque[Response] = deque()
        self.tokens: dict[str, tuple[dict[str, str], int]] = {}
        self.now = "2026-11-20T20:00:00Z"
        self.resume_delay = 0.0  # seconds before answering a resumptionToken request
        self.http = HttpServer(self)

    def add(self, xml: str, prefix: str | None = "arXivRaw") -> None:
        """Serve one `<record>` (its prefix read from the metadata unless given)."""
        found = _OAI_PREFIX.search(xml)
        ident = _OAI_IDENTIFIER.search(xml)
        stamp = _OAI_DATESTAMP.search(xml)
        assert ident and stamp, xml[:200]
        kind = found["prefix"] if found else prefix
        for each in [kind] if kind else ["arXiv", "arXivRaw"]:  # a deleted record: both
            if any(r.arxiv_id == ident["id"] and r.prefix == each for r in self.records):
                continue  # the same deleted record, listed in both formats' files
            self.records.append(
                OaiRecord(ident["id"], each, stamp["day"], _OAI_SET.findall(xml), xml)
            )

    @staticmethod
    def raw_record(
        arxiv_id: str,
        datestamp: str,
        versions: list[str],
        title: str = "A harvested paper",
        categories: str = "cs.LG",
        set_spec: str = "cs",
        authors: str = "Ada Lovelace and Alan Turing",
        abstract: str = "We harvest papers.",
    ) -> str:
        """An arXivRaw `<record>`; `versions` are RFC 2822 dates of v1, v2, ..."""
        blocks = "".join(
            f'<version version="v{n}"><date>{when}</date><size>10kb</size>'
            "<source_type>D</source_type></version>"
            for n, when in enumerate(versions, start=1)
        )
        return OAI_RAW_RECORD.format(
            id=arxiv_id,
            datestamp=datestamp,
            set=set_spec,
            versions=blocks,
            title=title,
            authors=authors,
            categories=categories,
            abstract=abstract,
        )

    @property
    def url(self) -> str:
        return f"{self.http.url}/oai"

    @property
    def requests(self) -> list[Request]:
        return self.http.requests

    def start(self) -> FakeOaiPmh:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def __call__(self, request: Request) -> Response:
        if request.path != "/oai":
            return Response(404, b"not found")
        if self.faults:
            return self.faults.popleft()
        params = {k: v[0] for k, v in request.query.items()}
        if params.get("verb") != "ListRecords":
            return self._error(params, "badVerb", "Illegal verb")
        token = params.get("resumptionToken")
        if token is not None:
            if set(params) != {"verb", "resumptionToken"}:
                return self._error(params, "badArgument", "resumptionToken is exclusive")
            if token not in self.tokens:
                return self._error(params, "badResumptionToken", f"Invalid token '{token}'")
            query, offset = self.tokens[token]  # reusable until it expires, as at arXiv
        else:
            query, offset = params, 0
            prefix = params.get("metadataPrefix")
            if prefix is None:
                return self._error(params, "badArgument", "metadataPrefix is required")
            if prefix not in self.formats:
                return self._error(
                    params, "cannotDisseminateFormat", f"Format '{prefix}' is not supported"
                )
        matching = [r for r in self.records if self._matches(r, query)]
        if not matching:
            return self._error(params, "noRecordsMatch", "The combination gives no records")
        page = matching[offset : offset + self.page_size]
        body = OAI_HEAD.format(now=self.now, attrs=self._attrs(params), host=self.http.url[7:])
        body += "<ListRecords>\n" + "\n".join(r.xml for r in page) + "\n"
        following = offset + len(page)
        if following < len(matching):
            new_token = f"{len(self.tokens) + 1}-{following}"
            self.tokens[new_token] = (query, following)
            body += (
                f'<resumptionToken cursor="{offset}" completeListSize="{len(matching)}">'
                f"{new_token}</resumptionToken>\n"
            )
        elif offset:
            body += f'<resumptionToken cursor="{offset}" completeListSize="{len(matching)}"/>\n'
        body += "</ListRecords>\n</OAI-PMH>\n"
        delay = self.resume_delay if token is not None else 0.0
        return Response(200, body.encode(), {"Content-Type": "text/xml; charset=utf-8"}, delay)

    @staticmethod
    def _matches(record: OaiRecord, query: dict[str, str]) -> bool:
        if record.prefix != query.get("metadataPrefix"):
            return False
        if "from" in query and record.datestamp < query["from"]:
            return False
        if "until" in query and record.datestamp > query["until"]:
            return False
        wanted = query.get("set")
        return wanted is None or any(s == wanted or s.startswith(wanted + ":") for s in record.sets)

    @staticmethod
    def _attrs(params: dict[str, str]) -> str:
        return "".join(f' {k}="{v}"' for k, v in params.items() if re.fullmatch(r"\w+", k))

    def _error(self, params: dict[str, str], code: str, message: str) -> Response:
        body = OAI_HEAD.format(now=self.now, attrs=self._attrs(params), host=self.http.url[7:])
        body += f'<error code="{code}">{message}</error>\n</OAI-PMH>\n'
        return Response(200, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})


@pytest.fixture
def oai_pmh() -> Iterator[FakeOaiPmh]:
    server = FakeOaiPmh().start()
    yield server
    server.stop()


# --- GitHub's REST API -------------------------------------------------------------------

GITHUB_JSON = {"Content-Type": "application/json; charset=utf-8"}


def github_repo_json(full_name: str, stars: int, description: str | None = None) -> dict[str, Any]:
    """A repository as `GET /repos/{owner}/{repo}` returns it (the fields GitHub sends)."""
    owner, _, name = full_name.partition("/")
    api = "https://api.github.com"
    return {
        "id": abs(hash(full_name)) % 10**9,
        "node_id": "R_kgDOabcdef",
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": {
            "login": owner,
            "id": abs(hash(owner)) % 10**8,
            "type": "User",
            "html_url": f"https://github.com/{owner}",
            "url": f"{api}/users/{owner}",
        },
        "html_url": f"https://github.com/{full_name}",
        "description": description,
        "fork": False,
        "url": f"{api}/repos/{full_name}",
        "created_at": "2023-03-01T09:12:44Z",
        "updated_at": "2026-11-30T17:02:10Z",
        "pushed_at": "2026-11-28T08:15:03Z",
        "homepage": "",
        "size": 5120,
        "stargazers_count": stars,
        "watchers_count": stars,
        "language": "Python",
        "forks_count": stars // 10,
        "archived": False,
        "disabled": False,
        "open_issues_count": 3,
        "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT"},
        "topics": ["machine-learning"],
        "visibility": "public",
        "default_branch": "main",
        "network_count": stars // 10,
        "subscribers_count": 7,
    }


class FakeGitHubApi:
    """GitHub's REST API for `GET /repos/{owner}/{repo}`, over real HTTP on loopback.

    Like GitHub: names are case-insensitive; a renamed repository (`renamed`) answers 301
    to its new address; every answer carries `x-ratelimit-*` headers, and when `remaining`
    reaches 0 the answer is 403 with GitHub's "API rate limit exceeded" body until the
    reset; with `tokens` set, a request without one of them as a Bearer token is 401 "Bad
    credentials". `secondary(n, retry_after)` answers the next n requests with the
    secondary limit's 403 and Retry-After. `faults` are answered first, one per request.
    Answers carry an `ETag`; a request whose `If-None-Match` names the current one is a 304,
    which does not count against the limit when the request carries a token.
    """

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, Any]] = {}
        self.renamed: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.limit = 60
        self.remaining = 60
        self.reset = int(time.time()) + 3600
        self.faults: deque[Response] = deque()
        self.http = HttpServer(self)

    def add(self, full_name: str, stars: int, description: str | None = None) -> None:
        self.repos[full_name.lower()] = github_repo_json(full_name, stars, description)

    def secondary(self, n: int, retry_after: int = 60) -> None:
        body = {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
            "before you try again. If you reach out to GitHub Support for help, please "
            "include the request ID 0000:1111:2222:3333:4444.",
            "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        }
        for _ in range(n):
            self.faults.append(
                Response(403, _json(body), {**GITHUB_JSON, "Retry-After": str(retry_after)})
            )

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def requests(self) -> list[Request]:
        return self.http.requests

    def start(self) -> FakeGitHubApi:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    def _limits(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(self.limit - self.remaining),
            "x-ratelimit-resource": "core",
            "x-github-api-version-selected": "2022-11-28",
        }

    def __call__(self, request: Request) -> Response:
        if self.faults:
            return self.faults.popleft()
        if self.tokens:
            given = request.headers.get("authorization", "")
            if given.removeprefix("Bearer ") not in self.tokens:
                body = {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                }
                return Response(401, _json(body), {**GITHUB_JSON, **self._limits()})
        if self.remaining <= 0 and time.time() < self.reset:
            body = {
                "message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                "Authenticated requests get a higher rate limit. Check out the documentation "
                "for more details.)",
                "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
            }
            return Response(403, _json(body), {**GITHUB_JSON, **self._limits()})
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)", request.path)
        key = f"{match[1]}/{match[2]}".lower() if match else ""
        authorized = bool(request.headers.get("authorization"))
        etag = self._etag(key)
        if etag is not None and request.headers.get("if-none-match") == etag and authorized:
            # GitHub: a 304 to a correctly authorized request does not count.
            return Response(304, b"", {**self._limits(), "ETag": etag})
        self.remaining -= 1
        if etag is not None and request.headers.get("if-none-match") == etag:
            return Response(304, b"", {**self._limits(), "ETag": etag})
        if key in self.renamed:
            return Response(
                301,
                _json(
                    {"message": "Moved Permanently", "url": f"{self.url}/repos/{self.renamed[key]}"}
                ),
                {
                    **GITHUB_JSON,
                    **self._limits(),
                    "Location": f"{self.url}/repos/{self.renamed[key]}",
                },
            )
        if key not in self.repos:
            body = {
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
                "status": "404",
            }
            return Response(404, _json(body), {**GITHUB_JSON, **self._limits()})
        return Response(
            200, _json(self.repos[key]), {**GITHUB_JSON, **self._limits(), "ETag": str(etag)}
        )

    def _etag(self, key: str) -> str | None:
        """GitHub's weak validator of the answer: it changes when the repository does."""
        if key not in self.repos:
            return None
        return 'W/"' + hashlib.sha256(_json(self.repos[key])).hexdigest() + '"'


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


@pytest.fixture
def github_api() -> Iterator[FakeGitHubApi]:
    server = FakeGitHubApi().start()
    yield server
    server.stop()
