"""One line per request: client, method, path, status, time. Questions may name citizens, so the
query text (and the query string that carries it) is left out unless the operator asks for it."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("kb.access")
QUERY_STATE = "query_text"  # where a route leaves the question it answered, in the request's state


class AccessLog:
    def __init__(self, app: ASGIApp, log_queries: bool = False):
        self.app = app
        self.log_queries = log_queries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            client = scope.get("client")
            where = f"{client[0]}:{client[1]}" if client else "-"
            line = f'{where} "{scope["method"]} {scope["path"]}" {status} {1000 * (time.perf_counter() - started):.1f} ms'
            query = scope.get("state", {}).get(QUERY_STATE)
            if self.log_queries and query is not None:
                line += f" query={query!r}"
            log.info(line)
