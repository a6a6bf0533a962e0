"""The HTTP server of the REST API: keep-alive HTTP/1.1, gzip bodies, CORS, metrics and readiness."""

from __future__ import annotations

import logging
import socket
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from serving.errors import ServingError, invalid_argument
from serving.rest.api import Reply, RestApi, error_reply
from serving.rest.routes import is_api_path, route

MAX_GZIP_BYTES = 100 * 2**20
IDLE_CONNECTION_SECONDS = 60
NOT_FOUND_PAGE = b"<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n</BODY></HTML>\n"
READINESS_PATH = "/readyz"
log = logging.getLogger(__name__)


@dataclass
class RestOptions:
    port: int = 8501
    enable_cors: bool = False
    prometheus_path: str | None = None


class RestServer:
    """Owns the listening socket and its threads; ``start`` returns at once."""

    def __init__(
        self,
        api: RestApi,
        options: RestOptions,
        render_metrics: Callable[[], str],
        is_ready: Callable[[], bool],
    ) -> None:
        handler = type(
            "BoundRestHandler",
            (RestHandler,),
            {"api": api, "options": options, "render_metrics": staticmethod(render_metrics), "is_ready": staticmethod(is_ready)},
        )
        self._server = DualStackServer(("::", options.port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="rest", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close the socket and join the accept thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class DualStackServer(ThreadingHTTPServer):
    """Listens on IPv6 ``::`` and IPv4 alike, like TF Serving's REST server."""

    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class RestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECONDS
    disable_nagle_algorithm = True
    api: RestApi
    options: RestOptions
    render_metrics: Callable[[], str]
    is_ready: Callable[[], bool]

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin", "")
        self._read_body()
        if origin.startswith(("http://", "https://")):
            self._send(200, b"", "application/json")
        else:
            self._send_reply(error_reply(invalid_argument("Origin header is missing in CORS preflight")))

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        try:
            body = self._read_body()
        except ServingError as error:
            self._send_reply(error_reply(error))
            return
        if is_api_path(path):
            self._send_reply(self._api_reply(method, path, body))
        elif method == "GET" and path == self.options.prometheus_path:
            self._send(200, self.render_metrics().encode(), "text/plain; version=0.0.4")
        elif method == "GET" and path == READINESS_PATH:
            ready = self.is_ready()
            self._send(200 if ready else 503, b'{"ready": %s}\n' % (b"true" if ready else b"false"), "application/json")
        else:
            self._send(404, NOT_FOUND_PAGE, "text/html")

    def _api_reply(self, method: str, path: str, body: bytes) -> Reply:
        try:
            return self.api.handle(route(method, path), body)
        except ServingError as error:
            return error_reply(error)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip" and body:
            return _gunzip(body)
        return body

    def _send_reply(self, reply: Reply) -> None:
        self._send(reply.status, reply.body, "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.options.enable_cors:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "POST, GET")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        log.debug("%s - %s", self.address_string(), format % args)


def _gunzip(body: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, MAX_GZIP_BYTES + 1)
    except zlib.error as error:
        raise invalid_argument(f"Failed to decompress gzip request body: {error}") from None
    if len(data) > MAX_GZIP_BYTES:
        raise invalid_argument(f"Decompressed request body exceeds {MAX_GZIP_BYTES} bytes")
    return data
