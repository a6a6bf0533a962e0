"""The HTTP server of the REST API, on aiohttp: keep-alive HTTP/1.1, gzip bodies, CORS, metrics and readiness.

aiohttp's C parser (llhttp) does the HTTP framing: a malformed request line, header or Content-Length
answers 400, chunked bodies are read as such, and a body past ``--rest_api_max_body_bytes`` answers 413.
A connection without complete request headers for ``--rest_api_idle_timeout_seconds`` (idle, or a
slow-loris client trickling bytes) is closed; a body slower than ``--rest_api_body_timeout_seconds`` answers 408.
The event loop runs in one thread of its own and only moves bytes; the API call itself (JSON decoding,
the model run) runs on a pool of ``--rest_api_num_threads`` threads, so a slow or idle client costs a
socket, never a thread. The loop is uvloop's (libuv), a few percent faster than asyncio's for small calls.
uvicorn measured within 10 % of it either way, but would leave the body limit and the timeouts to us;
bench/RESULTS.md has the measurements behind the choice (bench/http_stacks.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import uvloop
from aiohttp import http_exceptions, web

from serving.drain import SHUTTING_DOWN, RequestGate
from serving.errors import ServingError, invalid_argument
from serving.rest.api import Reply, RestApi, error_reply
from serving.rest.compression import TF_SERVING_ENCODINGS, V2_ENCODINGS, decoded_body
from serving.rest.routes import is_api_path, route
from serving.rest.v2_api import V2RestApi, is_v2_path

NOT_FOUND_PAGE = b"<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n</BODY></HTML>\n"
READINESS_PATH = "/readyz"
LISTEN_BACKLOG = 1024
STARTUP_SECONDS = 30.0
STOP_GRACE_SECONDS = 5.0
"""On stop, calls still running get this long (the server drains first on SIGTERM: serving.drain)."""
JSON = "application/json"
log = logging.getLogger(__name__)


class OneLineProtocolErrors(logging.Filter):
    """aiohttp logs a client's malformed request with a traceback; here it is one line naming the problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, http_exceptions.HttpProcessingError):
            record.msg, record.args = "Malformed HTTP request answered %d: %s", (error.code, error.message.strip())
            record.exc_info, record.exc_text, record.levelno, record.levelname = None, None, logging.INFO, "INFO"
        return True


protocol_log = logging.getLogger(f"{__name__}.protocol")
protocol_log.addFilter(OneLineProtocolErrors())


@dataclass(frozen=True)
class RestOptions:
    """The REST port and what it offers; the limits protect the server from its clients."""

    port: int = 8501
    enable_cors: bool = False
    prometheus_path: str | None = None
    host: str | None = None
    """None: every interface, IPv4 and IPv6."""
    num_threads: int = 8
    max_body_bytes: int = 64 * 2**20
    idle_timeout_seconds: float = 60.0
    body_timeout_seconds: float = 30.0


class RestServer:
    """Owns the listening socket, its event-loop thread and the worker pool; ``start`` returns once listening."""

    def __init__(
        self, api: RestApi, options: RestOptions, render_metrics: Callable[[], str], is_ready: Callable[[], bool],
        gate: RequestGate, v2_api: V2RestApi,
    ) -> None:
        self._handler = RestHandler(api, options, render_metrics, is_ready, v2_api)
        self._options = options
        self._gate = gate
        self._loop = uvloop.new_event_loop()
        self._workers = ThreadPoolExecutor(max_workers=max(options.num_threads, 1), thread_name_prefix="rest")
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="rest-loop", daemon=True)
        self._port = options.port

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        """Bind and listen; raises OSError when the port cannot be had."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(STARTUP_SECONDS)

    async def _open(self) -> None:
        app = web.Application(client_max_size=self._options.max_body_bytes)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, auto_decompress=False, logger=protocol_log,
            keepalive_timeout=self._options.idle_timeout_seconds, lingering_time=self._options.body_timeout_seconds,
            shutdown_timeout=STOP_GRACE_SECONDS,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._options.host, self._options.port, backlog=LISTEN_BACKLOG, reuse_address=True)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _handle(self, request: web.Request) -> web.Response:
        """API calls pass the request gate; readiness, metrics and 404s answer even while draining."""
        if not (is_api_path(request.raw_path) or is_v2_path(request.raw_path)):
            return await self._admitted(request)
        if not self._gate.enter():
            return self._handler.response(503, error_body(SHUTTING_DOWN), JSON)
        try:
            return await self._admitted(request)
        finally:
            self._gate.leave()

    async def _admitted(self, request: web.Request) -> web.Response:
        try:
            body = await asyncio.wait_for(request.read(), self._options.body_timeout_seconds)
        except web.HTTPRequestEntityTooLarge:
            message = f"Request body exceeds the limit of {self._options.max_body_bytes} bytes (--rest_api_max_body_bytes)"
            return self._handler.response(413, error_body(message), JSON)
        except asyncio.TimeoutError:
            message = (
                f"Request body not received within {self._options.body_timeout_seconds:g} s"
                " (--rest_api_body_timeout_seconds)"
            )
            response = self._handler.response(408, error_body(message), JSON)
            response.force_close()
            return response
        answer = await self._loop.run_in_executor(
            self._workers, self._handler.answer, request.method, request.raw_path, request.headers, body
        )
        return self._handler.response(*answer)

    def stop(self) -> None:
        """Stop listening, give calls still running STOP_GRACE_SECONDS, then join every thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(
                STOP_GRACE_SECONDS + STARTUP_SECONDS
            )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._workers.shutdown(wait=True)


class RestHandler:
    """Turns one HTTP request (method, raw path, headers, body) into a status, a body and a content type."""

    def __init__(
        self, api: RestApi, options: RestOptions, render_metrics: Callable[[], str], is_ready: Callable[[], bool],
        v2_api: V2RestApi,
    ) -> None:
        self._api = api
        self._v2_api = v2_api
        self._options = options
        self._render_metrics = render_metrics
        self._is_ready = is_ready

    def answer(self, method: str, raw_path: str, headers, body: bytes) -> tuple[int, bytes, str] | tuple[int, bytes, str, dict]:
        """Status, body and content type, and for the v2 API the response headers it adds."""
        path = raw_path.split("?", 1)[0]
        if method == "OPTIONS":
            return self._preflight(headers)
        v2 = is_v2_path(path)
        try:
            body = decoded_body(body, headers.get("Content-Encoding", ""), V2_ENCODINGS if v2 else TF_SERVING_ENCODINGS)
        except ServingError as error:
            return self._reply(error_reply(error))
        if is_api_path(path):
            return self._reply(self._api_reply(method, path, body))
        if v2:
            reply = self._v2_api.answer(method, path, headers, body)
            return reply.status, reply.body, reply.content_type, reply.headers
        if method == "GET" and path == self._options.prometheus_path:
            return 200, self._render_metrics().encode(), "text/plain; version=0.0.4"
        if method == "GET" and path == READINESS_PATH:
            ready = self._is_ready()
            return (200 if ready else 503), b'{"ready": %s}\n' % (b"true" if ready else b"false"), JSON
        return 404, NOT_FOUND_PAGE, "text/html"

    def _preflight(self, headers) -> tuple[int, bytes, str]:
        if headers.get("Origin", "").startswith(("http://", "https://")):
            return 200, b"", JSON
        return self._reply(error_reply(invalid_argument("Origin header is missing in CORS preflight")))

    def _api_reply(self, method: str, path: str, body: bytes) -> Reply:
        try:
            return self._api.handle(route(method, path), body)
        except ServingError as error:
            return error_reply(error)

    @staticmethod
    def _reply(reply: Reply) -> tuple[int, bytes, str]:
        return reply.status, reply.body, JSON

    def response(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> web.Response:
        response = web.Response(status=status, body=body, headers={"Content-Type": content_type, **(headers or {})})
        if self._options.enable_cors:
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Allow-Methods"] = "POST, GET"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        return response


def error_body(message: str) -> bytes:
    return error_reply(invalid_argument(message)).body
