"""The files under deploy/ work as shipped: the environment file reads the same in systemd
and in sh, and the nginx config passes `nginx -t` and behaves right in front of real nodes."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

DEPLOY = Path(__file__).parents[1] / "deploy"
ENV_EXAMPLE = DEPLOY / "paperfeed.env.example"
NGINX_CONF = DEPLOY / "nginx" / "paperfeed.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = "papers.example.org"

# --- the environment file -------------------------------------------------------------------


def parse_systemd_environment_file(text: str) -> dict[str, str]:
    """Read KEY=VALUE lines as systemd's EnvironmentFile= does (src/basic/env-file.c).

    Lines starting with # or ; are comments; a value may be unquoted (backslash escapes the
    next character, trailing blanks dropped), 'single-quoted' (literal) or "double-quoted"
    (backslash escapes only " \\ ` $); a backslash before a newline continues the line.
    """
    variables: dict[str, str] = {}
    state, key, value, last_kept = "pre_key", "", "", 0
    for char in text + "\n":
        if state == "pre_key":
            if char in "#;":
                state = "comment"
            elif not char.isspace():
                state, key = "key", char
        elif state == "comment":
            if char == "\n":
                state = "pre_key"
        elif state == "key":
            if char == "\n":
                state = "pre_key"  # a line without '=' is ignored
            elif char == "=":
                state, key, value, last_kept = "pre_value", key.strip(), "", 0
            else:
                key += char
        elif state == "pre_value":
            if char == "\n":
                variables[key] = value
                state = "pre_key"
            elif char == "'":
                state = "single"
            elif char == '"':
                state = "double"
            elif char == "\\":
                state = "value_escape"
            elif not char.isspace():
                state, value = "value", value + char
                last_kept = len(value)
        elif state == "value":
            if char == "\n":
                variables[key] = value[:last_kept]
                state = "pre_key"
            elif char == "\\":
                state = "value_escape"
            else:
                value += char
                if not char.isspace():
                    last_kept = len(value)
        elif state == "value_escape":
            state = "value"
            if char != "\n":
                value += char
                last_kept = len(value)
        elif state == "single":
            if char == "'":
                state = "pre_value"
            else:
                value += char
        elif state == "double":
            if char == '"':
                state = "pre_value"
            elif char == "\\":
                state = "double_escape"
            else:
                value += char
        elif state == "double_escape":
            state = "double"
            if char in '"\\`$':
                value += char
            elif char != "\n":
                value += "\\" + char
    return variables


def source_with_sh(path: Path) -> dict[str, str]:
    """The variables `sh -c 'set -a; . FILE'` exports (as the README's `db upgrade` does)."""
    result = subprocess.run(
        ["/bin/sh", "-c", 'set -a; . "$1"; exec /usr/bin/env -0', "sh", str(path)],
        capture_output=True,
        env={},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b"", result.stderr.decode()
    pairs = (entry.split("=", 1) for entry in result.stdout.decode().split("\0") if entry)
    return dict(pairs)  # type: ignore[arg-type]


def test_systemd_parsing_follows_its_quoting_rules() -> None:
    text = (
        "# comment\n; also a comment\nA=plain value  \nB='single $x \\n'\n"
        'C="double \\"quoted\\" \\$HOME \\n"\nD=esc\\ aped\\\n continued\nE=\n'
    )
    assert parse_systemd_environment_file(text) == {
        "A": "plain value",
        "B": "single $x \\n",
        "C": 'double "quoted" $HOME \\n',
        "D": "esc aped continued",
        "E": "",
    }


def test_the_example_environment_reads_the_same_in_systemd_and_sh() -> None:
    from_systemd = parse_systemd_environment_file(ENV_EXAMPLE.read_text())
    from_sh = source_with_sh(ENV_EXAMPLE)
    assert {k: v for k, v in from_sh.items() if k in from_systemd} == from_systemd
    assert sorted(k for k in from_sh if k.startswith("PAPERFEED_")) == sorted(
        k for k in from_systemd if k.startswith("PAPERFEED_")
    )
    assert from_systemd["PAPERFEED_MAIL_FROM"] == "paperfeed <noreply@papers.example.org>"
    assert from_systemd["PAPERFEED_SITE_URL"].startswith("https://")
    assert from_systemd["FORWARDED_ALLOW_IPS"] == "127.0.0.1"


def test_the_example_leaves_the_secret_key_to_be_generated() -> None:
    text = ENV_EXAMPLE.read_text()
    assert "PAPERFEED_SECRET_KEY" not in parse_systemd_environment_file(text)
    assert "secrets.token_urlsafe(48)" in text


def test_every_assignment_in_the_example_is_valid_sh_on_its_own(tmp_path: Path) -> None:
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        single = tmp_path / "line.env"
        single.write_text(line + "\n")
        name = line.split("=", 1)[0]
        assert source_with_sh(single)[name] == parse_systemd_environment_file(line)[name], (
            f"line {number}: {line}"
        )


# --- nginx ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Unavailable(BaseHTTPRequestHandler):
    """A node whose database is down: every request gets 503 with Retry-After."""

    protocol_version = "HTTP/1.1"
    hits = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with Unavailable.lock:
            Unavailable.hits += 1
        body = b"The database is unavailable; try again shortly.\n"
        self.send_response(503)
        self.send_header("Retry-After", "30")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Nginx:
    """The shipped config in a private nginx: loopback ports, a self-signed certificate."""

    def __init__(self, root: Path, backend_ports: list[int], config: str) -> None:
        self.root = root
        self.http_port, self.https_port = free_port(), free_port()
        cert, key = root / "cert.pem", root / "key.pem"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-subj", f"/CN={SITE}", "-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        config = config.replace("127.0.0.1:8001", f"127.0.0.1:{backend_ports[0]}")
        config = config.replace("127.0.0.1:8002", f"127.0.0.1:{backend_ports[1]}")
        config = re.sub(r"^\s*listen \[::\].*$", "", config, flags=re.M)
        config = config.replace("listen 80;", f"listen 127.0.0.1:{self.http_port};")
        config = config.replace("listen 443 ", f"listen 127.0.0.1:{self.https_port} ")
        config = re.sub(r"ssl_certificate \s*\S+;", f"ssl_certificate {cert};", config)
        config = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", config)
        config = config.replace("/var/lib/nginx/paperfeed-cache", str(root / "cache"))
        (root / "paperfeed.conf").write_text(config)
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = " ".join(
            f"{kind}_temp_path {root / kind};" for kind in ("client_body", "proxy", "fastcgi")
        )
        (root / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {root / 'nginx.pid'};\n"
            f"error_log {root / 'error.log'};\nevents {{ worker_connections 64; }}\n"
            f"http {{\n access_log off;\n {temp}\n uwsgi_temp_path {root / 'uwsgi'};\n"
            f" scgi_temp_path {root / 'scgi'};\n include {root / 'paperfeed.conf'};\n}}\n"
        )
        self.command = [NGINX, "-p", str(root), "-e", str(root / "error.log")]
        self.command += ["-c", str(root / "nginx.conf")]
        self.process: subprocess.Popen[bytes] | None = None

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.command, "-t"], capture_output=True, text=True, timeout=60)

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read().decode()  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("nginx did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def unavailable_nodes() -> Iterator[list[int]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Unavailable) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    Unavailable.hits = 0
    yield [server.server_address[1] for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def nginx(tmp_path: Path, unavailable_nodes: list[int]) -> Iterator[Nginx]:
    proxy = Nginx(tmp_path, unavailable_nodes, NGINX_CONF.read_text())
    yield proxy
    proxy.stop()


def test_the_nginx_config_passes_nginx_t(nginx: Nginx) -> None:
    result = nginx.test_config()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_passes_a_503_through_once_with_retry_after(nginx: Nginx) -> None:
    nginx.start()
    base = f"https://127.0.0.1:{nginx.https_port}"
    with httpx.Client(verify=False, headers={"Host": SITE}, timeout=10) as client:
        answers = [client.get(f"{base}/?n={n}") for n in range(12)]
    # Never retried on the other node, never turned into 502: with max_fails=3 that would
    # mark both nodes down after a few 503s.
    assert [answer.status_code for answer in answers] == [503] * 12
    assert all(answer.headers["retry-after"] == "30" for answer in answers)
    assert Unavailable.hits == 12


def test_plain_http_redirects_to_https(nginx: Nginx) -> None:
    nginx.start()
    answer = httpx.get(
        f"http://127.0.0.1:{nginx.http_port}/papers/2401.00001?x=1", headers={"Host": SITE}
    )
    assert answer.status_code == 301
    assert answer.headers["location"] == f"https://{SITE}/papers/2401.00001?x=1"
    assert Unavailable.hits == 0


# --- security headers through nginx ---------------------------------------------------------

SECURITY_HEADERS = (
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "strict-transport-security",
)
PACKAGE_STATIC = "/opt/paperfeed/venv/lib/python3.11/site-packages/paperfeed/web/static/"


@pytest.fixture
def https_node(tmp_path: Path) -> Iterator[str]:
    """A real paperfeed node (empty SQLite database) for an https site, on a loopback port."""
    from paperfeed.db import Database
    from paperfeed.web.app import create_app
    from tests.conftest import make_settings
    from tests.web.live import start_server

    url = f"sqlite:///{tmp_path / 'node.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp_path, url)
    settings.site_url = f"https://{SITE}"
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


def test_nginx_keeps_the_apps_security_headers_and_sends_them_with_static_files(
    tmp_path: Path, https_node: str
) -> None:
    from paperfeed.web import headers
    from paperfeed.web.app import STATIC_DIR

    port = int(https_node.rsplit(":", 1)[1])
    config = NGINX_CONF.read_text().replace(PACKAGE_STATIC, f"{STATIC_DIR}/")
    (tmp_path / "nginx").mkdir()
    proxy = Nginx(tmp_path / "nginx", [port, port], config)
    proxy.start()
    base = f"https://127.0.0.1:{proxy.https_port}"
    try:
        with httpx.Client(verify=False, headers={"Host": SITE}, timeout=10) as client:
            for path in ("/", "/api/docs", "/papers/9999.99999", "/static/style.css"):
                direct = httpx.get(https_node + path, timeout=10)
                proxied = client.get(base + path)
                assert proxied.status_code == direct.status_code, path
                for name in SECURITY_HEADERS:  # the app's value, exactly once
                    assert proxied.headers.get_list(name) == direct.headers.get_list(name), (
                        f"{path}: {name}"
                    )
                    assert len(proxied.headers.get_list(name)) == 1, f"{path}: {name}"
                assert proxied.headers["strict-transport-security"] == headers.HSTS
            assert client.get(base + "/api/docs").headers["content-security-policy"] == (
                headers.DOCS_POLICY  # a route's own policy survives the proxy
            )
    finally:
        proxy.stop()
