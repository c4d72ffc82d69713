"""A tiny fault-injecting HTTP proxy on loopback, in front of the S3-protocol test server.

Requests are forwarded to the server unchanged, except those that match a queued fault. A
fault is used up by the request it matches and does one of:

- ``"403"``: answers 403 AccessDenied, as S3 does for a missing permission;
- ``"503"``: answers 503 SlowDown, as S3 does when it throttles;
- ``"drop"``: reads half of the request body, then closes the connection (nothing is
  forwarded, so the server never sees the request);
- ``"truncate"``: forwards the request, then sends the response headers and only half of the
  response body before closing the connection.

Only loopback addresses are used, and every socket has a timeout.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

TIMEOUT = 10
KINDS = ("403", "503", "drop", "truncate")
ERRORS = {
    "403": (403, "AccessDenied", "Access Denied"),
    "503": (503, "SlowDown", "Please reduce your request rate."),
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}


@dataclass
class Fault:
    kind: str
    times: int = 1
    method: str | None = None  # any method when None
    path: str | None = None  # any path when None; "/bucket/key", unquoted, without query

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in (None, method) and self.path in (None, path)


@dataclass
class FaultProxy:
    upstream: str
    url: str = ""
    faults: list[Fault] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # "METHOD /bucket/key" of every request
    injected: list[str] = field(default_factory=list)  # "kind METHOD /bucket/key" per fault
    authorizations: list[str] = field(default_factory=list)  # Authorization headers sent
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, times: int = 1, method: str | None = None, path: str | None = None):
        assert kind in KINDS, kind
        with self.lock:
            self.faults.append(Fault(kind, times, method, path))

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def pending(self) -> int:
        with self.lock:
            return sum(f.times for f in self.faults)

    def _take(self, method: str, target: str) -> Fault | None:
        path = unquote(target.split("?")[0])
        with self.lock:
            self.seen.append(f"{method} {path}")
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    self.injected.append(f"{fault.kind} {method} {path}")
                    return fault
        return None


def _handler(proxy: FaultProxy, host: str, port: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = TIMEOUT

        def log_message(self, format, *args) -> None:
            pass

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _cut(self) -> None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def _handle(self) -> None:
            proxy.authorizations.append(self.headers.get("Authorization", ""))
            fault = proxy._take(self.command, self.path)
            kind = fault.kind if fault else None
            if kind == "drop":
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length // 2)
                self._cut()
                return
            body = self._read_body()
            if kind in ERRORS:
                self._error(*ERRORS[kind])
            else:
                self._forward(body, truncate=kind == "truncate")

        def _error(self, status: int, code: str, message: str) -> None:
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _forward(self, body: bytes, truncate: bool) -> None:
            conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            finally:
                conn.close()
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            if self.command == "HEAD":
                self.send_header("Content-Length", response.getheader("Content-Length", "0"))
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if truncate:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self._cut()
            else:
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    return Handler


@contextmanager
def running(upstream: str) -> Iterator[FaultProxy]:
    """A proxy in front of `upstream` (an http://127.0.0.1:port URL), for the block."""
    target = urlsplit(upstream)
    assert target.hostname == "127.0.0.1", "the fault proxy only forwards to loopback"
    proxy = FaultProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy, target.hostname, target.port))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)
