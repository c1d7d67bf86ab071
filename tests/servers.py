"""Real daphne processes for live tests: started, stopped (SIGTERM or SIGKILL) and restarted.

They run ``daphne project.asgi:application`` exactly as production does, on the test database
the test process created, so a browser talks to the same stack a user would.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def wait_for_unix_socket(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as sock:
            try:
                sock.connect(str(path))
                return
            except OSError:
                time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {path} after {timeout}s")


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.unix_path))


class Daphne:
    """``unix_socket``: listen there (``daphne -u``, as deploy/madang@.service does) instead of on
    127.0.0.1:``port``."""

    def __init__(
        self,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        unix_socket: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.env = env or {}
        self.args = args or []
        self.unix_socket = unix_socket
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = ROOT / f".daphne-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Daphne:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings_test",
            "MADANG_TEST_DATABASE_NAME": str(connection.settings_dict["NAME"]),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        log = self.log_path.open("ab")
        bind = ["-u", str(self.unix_socket)] if self.unix_socket else ["-b", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "daphne", *bind),
                *self.args,
                "project.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if self.unix_socket:
            wait_for_unix_socket(self.unix_socket)
        else:
            wait_for_port(self.port)
        return self

    def get(self, path: str, host: str = "127.0.0.1", timeout: float = 5.0) -> tuple[int, str]:
        """GET ``path`` straight from this process (its socket or port): status and body."""
        if self.unix_socket:
            conn: http.client.HTTPConnection = _UnixHTTPConnection(self.unix_socket, timeout)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Wait until the server has logged ``text``: how a test knows the server noticed a fault."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise TimeoutError(f"daphne :{self.port} did not log {text!r} within {timeout}s")
            time.sleep(0.05)

    def cleanup(self) -> None:
        self.stop()
        # pytest shows a test's output only when it fails: then the server's side is there too.
        print(f"--- daphne :{self.port} ---\n" + self.log()[-4000:])
        self.log_path.unlink(missing_ok=True)


class RedisServer:
    """A Redis server of the test's own, so a test can stop and restart it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class FlakyNetwork:
    """A TCP relay between browsers and daphne whose cable can be pulled: ``drop()`` cuts every
    connection at once (no WebSocket close frame: the browser sees 1006) and refuses new ones,
    as a lost network does; ``restore()`` plugs it back in."""

    def __init__(self, target_port: int) -> None:
        import threading

        self.target_port = target_port
        self.port = free_port()
        self.lock = threading.Lock()
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> FlakyNetwork:
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        self.thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self.thread.start()
        return self

    def drop(self) -> None:
        import struct

        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it
            except OSError:
                pass
            self.listener.close()
            self.listener = None
            if self.thread is not None:
                self.thread.join(timeout=5)
        with self.lock:
            for conn in self.connections:
                try:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.shutdown(socket.SHUT_RDWR)  # also wakes the relay threads blocked on it
                    conn.close()
                except OSError:
                    pass
            self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # dropped
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass
