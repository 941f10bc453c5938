"""The JSON API, version 1. Routes parse, ask the engine, and answer; no retrieval logic here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from kb.reports import StatusReport
from kb.handout import Handout
from kb.errors import UsageError
from kb_server.access_log import QUERY_STATE
from kb_server.engine import Answer, Engine
from kb_server.errors import error_response
from kb_server.schemas import (
    MAX_CONTEXT, DocumentList, ErrorAnswer, PassageAnswer, SearchContract, SearchDetails, SearchQuery,
)

GENERATION_HEADER = "KB-Generation"  # which index generation answered
ERRORS = {status: {"model": ErrorAnswer} for status in (400, 401, 403, 404, 413, 421, 503)}
HANDOUT_MEDIA = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}
# A handout is the server's own escaped HTML with inline styles: nothing in it may load or run anything.
HANDOUT_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def known_parameters(*names: str):
    """A dependency refusing query parameters the route does not take (a misspelt one would be ignored)."""
    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(names))
        if unknown:
            known = ", ".join(names) if names else "none"
            raise UsageError(f"unknown parameter '{unknown[0]}'; this endpoint takes: {known}")

    return Depends(check)


def answer_json(answer: Answer, content) -> JSONResponse:
    headers = {GENERATION_HEADER: answer.generation} if answer.generation else None
    return JSONResponse(content, headers=headers)


def api_router(engine: Engine) -> APIRouter:
    router = APIRouter(prefix="/v1", responses=ERRORS)

    async def search(request: Request, params: SearchQuery) -> JSONResponse:
        setattr(request.state, QUERY_STATE, params.q)
        answer = await engine.search(params.q, params, params.details)
        return answer_json(answer, answer.value)

    @router.get("/search", response_model=SearchDetails | SearchContract, summary="Search (the JSON contract of kb search --json)")
    async def search_get(request: Request, params: Annotated[SearchQuery, Query()]) -> JSONResponse:
        """`doc` may repeat: `doc=a&doc=b`. Without `details`, exactly what `kb search --json` prints."""
        return await search(request, params)

    @router.post("/search", response_model=SearchDetails | SearchContract, summary="Search, the fields as a JSON body",
                 dependencies=[known_parameters()])
    async def search_post(request: Request, params: SearchQuery) -> JSONResponse:
        return await search(request, params)

    @router.get("/passages/{chunk_id}", response_model=PassageAnswer, summary="A passage with its neighbours (kb show)",
                dependencies=[known_parameters("context")])
    async def passage(
        chunk_id: Annotated[str, Path(max_length=200, description="as in search results; '#' is sent as %23")],
        context: Annotated[int, Query(ge=0, le=MAX_CONTEXT)] = 1,
    ) -> JSONResponse:
        answer = await engine.call(engine.passage(chunk_id, context))
        return answer_json(answer, answer.value.model_dump(mode="json"))

    @router.get("/documents", response_model=DocumentList, summary="The indexed documents",
                dependencies=[known_parameters()])
    async def documents() -> JSONResponse:
        answer = await engine.call(engine.documents)
        return answer_json(answer, answer.value.model_dump(mode="json"))

    @router.get("/status", response_model=StatusReport, summary="What the index holds and what changed since (kb status)",
                dependencies=[known_parameters()])
    async def status() -> JSONResponse:
        answer = await engine.status()
        return answer_json(answer, answer.value.model_dump(mode="json"))

    @router.post(
        "/handout",
        summary="A handout from a plan (kb handout)",
        dependencies=[known_parameters("format")],
        response_class=Response,
        responses={200: {"model": Handout, "description": "Markdown, one printable HTML page, or the handout as data (json)",
                         "content": {"text/markdown": {}, "text/html": {}}}},
        openapi_extra={"requestBody": {"required": True, "description": "the plan, as in handouts/example.yaml",
                                       "content": {"application/yaml": {"schema": {"type": "string"}},
                                                   "application/json": {"schema": {"type": "object"}}}}},
    )
    async def handout(request: Request, format: Literal["md", "html", "json"] = "md") -> Response:  # noqa: A002 (the API's name)
        """The plan as YAML or JSON in the body. `md` and `html` are rendered by the code `kb handout`
        uses; `json` gives the handout's data (themes, passages, citations, sources) to render elsewhere."""
        from search_cli import handout_render

        try:
            plan = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            return error_response(400, "plan: not UTF-8 text")
        answer = await engine.call(engine.handout(plan))
        if format == "json":
            return answer_json(answer, answer.value.model_dump(mode="json"))
        headers = {GENERATION_HEADER: answer.generation} if answer.generation else {}
        if format == "html":
            headers["Content-Security-Policy"] = HANDOUT_CSP
            return Response(handout_render.html(answer.value), media_type=HANDOUT_MEDIA["html"], headers=headers)
        return Response(handout_render.markdown(answer.value), media_type=HANDOUT_MEDIA["md"], headers=headers)

    return router
