"""The knowledge base as MCP tools, for assistants: over streamable HTTP at /mcp, and over stdio
(`kb mcp`). Every tool answers twice: text a model or person reads (numbered passages, each with
its title, section and citation), and structured content in the HTTP API's shapes.

Built on the SDK's low-level server: the tools' arguments are the API's own pydantic models, so
an unknown argument is an error, as it is over HTTP, instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ValidationError

from kb.reports import StatusReport
from kb.errors import KBError
from kb_server.engine import Engine
from kb_server.errors import one_line
from kb_server.schemas import (
    DocumentList, NoArguments, PassageAnswer, PassageArguments, SearchArguments, SearchContract,
)

INSTRUCTIONS = (
    "A knowledge base on co-creation in the public sector (Danish 'samskabelse', Norwegian 'samskaping'): "
    "Danish and Norwegian guidance, course material and cases. Search in English, Danish or Norwegian and "
    "cite the passages you use by their citation."
)


@dataclass(frozen=True)
class ToolSpec:
    description: str
    arguments: type[BaseModel]
    output: type[BaseModel]
    run: Callable[[Engine, BaseModel], Awaitable[tuple[str, dict]]]  # readable text, structured content


async def run_search(engine: Engine, args: SearchArguments) -> tuple[str, dict]:
    contract = (await engine.search(args.query, args)).value
    return search_text(contract), contract


async def run_get_passage(engine: Engine, args: PassageArguments) -> tuple[str, dict]:
    answer = (await engine.call(engine.passage(args.chunk_id, args.context))).value
    return passage_text(answer), answer.model_dump(mode="json")


async def run_list_documents(engine: Engine, args: NoArguments) -> tuple[str, dict]:
    docs = (await engine.call(engine.documents)).value
    lines = [f"{d.doc_id} — {d.title} ({d.language}, {d.kind}, {d.passages} passages) · {d.path}" for d in docs.documents]
    return "\n".join(lines) or "The index holds no documents.", docs.model_dump(mode="json")


async def run_status(engine: Engine, args: NoArguments) -> tuple[str, dict]:
    report = (await engine.status()).value
    return report.render(), report.model_dump(mode="json")


TOOLS: dict[str, ToolSpec] = {
    "search": ToolSpec(
        "Find the passages that answer a question, best first, each with its document title, section and "
        "citation (file and lines or pages). Filters: lang (da, nb, en, all), kind, doc (document ids), "
        "mode (hybrid, dense, lexical).",
        SearchArguments, SearchContract, run_search),
    "get_passage": ToolSpec(
        "A passage by its chunk_id (from search results) with `context` neighbouring passages on each side.",
        PassageArguments, PassageAnswer, run_get_passage),
    "list_documents": ToolSpec("The documents in the knowledge base: id, title, language, kind, passages, metadata.",
                               NoArguments, DocumentList, run_list_documents),
    "status": ToolSpec("What the index holds (documents, passages, model, age) and what changed since indexing.",
                       NoArguments, StatusReport, run_status),
}


def search_text(contract: dict) -> str:
    if not contract["results"]:
        return f"No passages found for {contract['query']!r}: try other words or fewer filters."
    blocks = []
    for r in contract["results"]:
        section = f" — {r['section']}" if r["section"] else ""
        blocks.append(f"{r['rank']}. {r['title']}{section} ({r['language']}, {r['kind']})\n"
                      f"   {r['citation']} · {r['chunk_id']}\n{indented(r['text'])}")
    if contract["weak_match"]:  # first, so a model reading the answer does not take it as one
        blocks.insert(0, f"Weak match (confidence {contract['confidence']:.2f} of 1): nothing below answers "
                         "the question well; these are only the nearest passages.")
    return "\n\n".join(blocks)


def passage_text(answer: PassageAnswer) -> str:
    this = answer.passage
    section = f" — {this.section}" if this.section else ""
    parts = [f"{this.title}{section} ({this.language}, {this.kind})"]
    parts += [f"   before, {hit.citation}:\n{indented(hit.text)}" for hit in answer.before]
    parts.append(f"   {this.citation} · {this.chunk_id}\n{indented(this.text)}")
    parts += [f"   after, {hit.citation}:\n{indented(hit.text)}" for hit in answer.after]
    return "\n\n".join(parts)


def indented(text: str) -> str:
    return "\n".join(f"   {line}".rstrip() for line in text.strip().splitlines())


def tool_error(message: str) -> types.CallToolResult:
    """A failed call the model can read and correct (bad arguments, no index yet): not a protocol error."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=one_line(message))], is_error=True)


def build_mcp_server(engine: Engine, version: str = "") -> Server:
    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=name, description=spec.description, input_schema=spec.arguments.model_json_schema(),
                       output_schema=spec.output.model_json_schema(),
                       annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False))
            for name, spec in TOOLS.items()
        ])

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = TOOLS.get(params.name)
        if spec is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}; the tools are {', '.join(TOOLS)}")
        try:
            args = spec.arguments.model_validate(params.arguments or {})
        except ValidationError as exc:
            return tool_error(f"{params.name}: {describe_argument_error(exc.errors()[0], spec.arguments)}")
        try:
            text, structured = await spec.run(engine, args)
        except KBError as exc:
            return tool_error(str(exc))
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=structured)

    return Server("kb", version=version, instructions=INSTRUCTIONS, on_list_tools=list_tools, on_call_tool=call_tool)


def describe_argument_error(err: dict, model: type[BaseModel]) -> str:
    loc = ".".join(str(part) for part in err.get("loc", ()))
    if err.get("type") == "extra_forbidden":
        fields = sorted(model.model_fields, key=lambda name: not model.model_fields[name].is_required())
        return f"unknown argument '{loc}'; this tool takes: {', '.join(fields) or 'none'}"
    if err.get("type") == "missing":
        return f"argument '{loc}' is required"
    return f"argument '{loc}': {err.get('msg', 'invalid')}"


async def serve_stdio(engine: Engine, version: str = "") -> None:
    import asyncio

    from mcp.server.stdio import stdio_server

    server = build_mcp_server(engine, version)
    watcher = asyncio.create_task(engine.watch())
    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        watcher.cancel()
