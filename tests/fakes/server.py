"""A tiny threaded HTTP server that vendor fakes build on.

A fake subclasses ``FakeServer`` and implements ``handle(request) -> Reply``. The server
records every request in ``.requests``, serves queued failures first (``fail_next``), and
runs on 127.0.0.1 with an OS-chosen port (``.url``). Use it as a context manager or via
``start()``/``stop()``.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass
class Received:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return ""


@dataclass
class Reply:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class _Failure:
    reply: Reply
    path: str | None
    times: int


class FakeServer:
    """Base class for vendor fakes."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the fake first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- scripting ------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        body: Any = b"",
        *,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests (whose path starts with ``path``, if given)."""
        with self._lock:
            self._failures.append(_Failure(Reply(status, body, dict(headers or {})), path, times))

    def requests_to(self, path_prefix: str) -> list[Received]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    def handle(self, request: Received) -> Reply:  # pragma: no cover - subclasses override
        raise NotImplementedError

    # --- plumbing -------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        form: dict[str, str] = {}
        if "application/x-www-form-urlencoded" in (handler.headers.get("Content-Type") or ""):
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        request = Received(
            method=handler.command,
            path=split.path,
            query={k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            headers=dict(handler.headers.items()),
            form=form,
            body=body,
        )
        with self._lock:
            self.requests.append(request)
            reply = self._take_failure(request.path)
        if reply is None:
            try:
                reply = self.handle(request)
            except Exception as exc:  # a bug in a fake must show up as a failing test
                reply = Reply(599, {"fake_error": repr(exc)})
        payload = reply.encoded()
        handler.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _take_failure(self, path: str) -> Reply | None:
        for failure in self._failures:
            if failure.path is None or path.startswith(failure.path):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure.reply
        return None


def bearer(request: Received) -> str:
    value = request.header("Authorization")
    return value[7:] if value.startswith("Bearer ") else ""


def encode_token(data: dict) -> str:
    """An opaque paging token, as vendors hand out (the connector must never parse it)."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@cache
def rsa_keypair(name: str = "default") -> tuple[str, str]:
    """A (private PEM, public PEM) RSA pair, generated once per name per test session."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public
