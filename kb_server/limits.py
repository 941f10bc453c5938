"""How much one request may ask of the server. The query length and top_k limits are the
library's own (kb.vocabulary.MAX_QUERY_CHARS, MAX_TOP_K), so the server and the CLI agree."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb_server.errors import error_response

MAX_BODY_BYTES = 64 * 1024  # a search or a handout plan; the example plan is 2 kB
MAX_HANDOUT_QUESTIONS = 60  # each question is one search
MAX_PENDING_JOBS = 64  # requests waiting for the worker; beyond that: 503, try again


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, declared or streamed, before a route
    reads them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(413, f"the request body is larger than {self.limit // 1024} KiB")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_large(scope, receive, send)
            return
        body, messages = 0, []
        while True:  # read the body now (it is small), so that a route never sees more than the limit
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += len(message.get("body", b""))
            if body > self.limit:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
