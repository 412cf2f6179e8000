"""A pooled PostgreSQL connection whose server stops answering must fail, not hang.

A network split drops packets without closing anything: no RST, no FIN. `connect_timeout`
only bounds new connections, and the pre-ping on a pooled one waits for an answer that never
comes, unless the kernel gives up on the socket (TCP keepalives for an idle connection,
`tcp_user_timeout` for unacknowledged data). The split is made real on loopback: a relay
between the engine and PostgreSQL stops forwarding and attaches a drop-everything socket
filter to its client-facing socket, so its kernel discards the engine's packets unacknowledged,
exactly as if they were lost on the wire.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import OperationalError

from paperfeed.db import Database, is_outage, make_engine
from tests.conftest import POSTGRES_URL

POSTGRES_ADDRESS = (make_url(POSTGRES_URL).host or "127.0.0.1", make_url(POSTGRES_URL).port or 5432)
SO_ATTACH_FILTER = 26
DROP_EVERYTHING = struct.pack("HBBI", 0x06, 0, 0, 0)  # BPF_RET | BPF_K, accept 0 bytes


def drop_incoming(sock: socket.socket) -> None:
    """Make the kernel discard (and never acknowledge) every packet arriving on `sock`."""
    program = ctypes.create_string_buffer(DROP_EVERYTHING)
    fprog = struct.pack("@HP", 1, ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class PartitionRelay:
    """A TCP relay to PostgreSQL that can be cut like a network link: silently."""

    def __init__(self) -> None:
        self.cut = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.client_sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def split(self) -> None:
        """Stop forwarding; from now on the engine's packets vanish and nothing comes back."""
        self.cut.set()
        with self._lock:
            for client in self.client_sockets:
                drop_incoming(client)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.client_sockets.append(client)
                if self.cut.is_set():
                    drop_incoming(client)
                    continue  # the handshake completed in the kernel; then silence
            server = socket.create_connection(POSTGRES_ADDRESS)
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while not self.cut.is_set():
                data = source.recv(65536)
                if not data or self.cut.is_set():
                    break
                target.sendall(data)
        except OSError:
            pass
        # Sockets stay open: a split closes nothing.

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for client in self.client_sockets:
                client.close()


@pytest.fixture
def relay() -> Iterator[PartitionRelay]:
    relay = PartitionRelay()
    yield relay
    relay.close()


def test_a_pooled_connection_across_a_network_split_fails_within_bounded_time(
    relay: PartitionRelay,
) -> None:
    # connect_timeout in the URL (it wins over the default) keeps the reconnect attempt that
    # follows the failed pre-ping short; the pooled connection relies on the defaults.
    database = Database(
        f"postgresql+psycopg://postgres@127.0.0.1:{relay.port}/test?connect_timeout=2"
    )
    try:
        with database.reader() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        relay.split()
        started = time.monotonic()
        with pytest.raises(OperationalError) as raised, database.reader() as session:
            session.execute(text("SELECT 1"))
        elapsed = time.monotonic() - started
    finally:
        database.dispose()
    assert is_outage(raised.value)
    assert elapsed < 30, f"took {elapsed:.1f} s"
    print(f"failed after {elapsed:.1f} s")


def server_side_parameters(url: str) -> dict[str, str]:
    """The libpq parameters a real connection was opened with."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.connection.dbapi_connection.info.get_parameters()
    finally:
        engine.dispose()


def test_keepalives_and_tcp_user_timeout_are_on_by_default_and_the_url_wins() -> None:
    defaults = server_side_parameters(f"{POSTGRES_URL}/test")
    assert defaults["keepalives"] == "1"
    assert defaults["keepalives_idle"] == "5"
    assert defaults["keepalives_interval"] == "2"
    assert defaults["keepalives_count"] == "3"
    assert defaults["tcp_user_timeout"] == "10000"
    assert defaults["connect_timeout"] == "10"
    chosen = server_side_parameters(
        f"{POSTGRES_URL}/test?tcp_user_timeout=30000&keepalives_idle=60&connect_timeout=3"
    )
    assert chosen["tcp_user_timeout"] == "30000"
    assert chosen["keepalives_idle"] == "60"
    assert chosen["connect_timeout"] == "3"
    assert chosen["keepalives_count"] == "3"
