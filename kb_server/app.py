"""The ASGI application: the JSON API, MCP at /mcp, /health and /openapi.json, behind the checks.

Outermost first: the access log; the Host/Origin checks and the read token; CORS (only when
configured); the body size limit; then the routes. Every error leaves as `{"error": "..."}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib.metadata import PackageNotFoundError, version

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from kb.errors import KBError
from kb_server.access_log import AccessLog
from kb_server.auth import Guard
from kb_server.engine import Engine
from kb_server.errors import describe_validation_error, error_response, kb_error_response
from kb_server.limits import MAX_BODY_BYTES, BodyLimit
from kb_server.routes import api_router
from kb_server.settings import ServerSettings
from kb_server.web import page_router

log = logging.getLogger("kb.server")


def kb_version() -> str:
    try:
        return version("kb-samskabelse")
    except PackageNotFoundError:
        return "0"


class McpEndpoint:
    """POST /mcp: the MCP SDK's streamable HTTP app (stateless, JSON answers), built at the first
    MCP request. Importing the SDK takes about 0.3 s of CPU, which a server nobody asks over MCP
    need not pay at every start; its session manager then runs in the server's task group."""

    def __init__(self, engine: Engine, settings: ServerSettings):
        self.engine, self.settings = engine, settings
        self.tasks: anyio.abc.TaskGroup | None = None  # set by the lifespan
        self._app = None
        self._building = asyncio.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            async with self._building:
                if self._app is None:
                    self._app = await self.tasks.start(self._run)
        await self._app(scope, receive, send)

    async def _run(self, *, task_status) -> None:
        server, app = await anyio.to_thread.run_sync(self._build)  # the import, off the event loop
        async with server.session_manager.run():
            task_status.started(app)
            await anyio.sleep_forever()

    def _build(self):
        from kb_server.mcp_tools import build_mcp_server

        server = build_mcp_server(self.engine, kb_version())
        return server, server.streamable_http_app(
            streamable_http_path="/mcp", stateless_http=True, json_response=True,
            transport_security=self.settings.mcp_transport_security(), max_request_body_size=MAX_BODY_BYTES,
        )


def create_app(engine: Engine, settings: ServerSettings) -> FastAPI:
    mcp_endpoint = McpEndpoint(engine, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        async with anyio.create_task_group() as tasks:
            mcp_endpoint.tasks = tasks
            tasks.start_soon(engine.watch)
            yield
            tasks.cancel_scope.cancel()

    middleware = [Middleware(AccessLog, log_queries=settings.log_queries), Middleware(Guard, settings=settings)]
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                                     allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"]))
    middleware.append(Middleware(BodyLimit))

    app = FastAPI(
        title="kb", version=kb_version(), lifespan=lifespan, middleware=middleware,
        docs_url=None, redoc_url=None,  # those pages load their scripts from a CDN
        description="Cited passages from a Danish and Norwegian knowledge base on co-creation. "
                    "Send `Authorization: Bearer TOKEN` when the server requires tokens.",
    )
    app.include_router(api_router(engine))
    app.include_router(page_router())  # the web page at /
    app.router.routes.append(Route("/mcp", endpoint=mcp_endpoint))

    @app.get("/health", summary="The process answers (no token, no details)")
    async def health() -> dict:
        return {"status": "ok"}

    @app.exception_handler(KBError)
    async def kb_error(request: Request, exc: KBError):
        return kb_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return error_response(400, describe_validation_error(exc.errors()[0]))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            return error_response(404, f"no such endpoint {request.url.path}; see /openapi.json")
        if exc.status_code == 405:
            return error_response(405, f"{request.method} is not allowed on {request.url.path}; see /openapi.json",
                                  dict(exc.headers or {}))
        return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.error("kb: %s on %s %s", exc.__class__.__name__, request.method, request.url.path, exc_info=exc)
        return error_response(500, "the server failed to answer this request; its log has the details")

    return app
