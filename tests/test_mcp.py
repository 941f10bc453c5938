"""MCP through the SDK's own client: streamable HTTP at /mcp of `kb serve`, and `kb mcp` over stdio.

Both transports give the same tools and the same answers, and the search tool's structured
content is exactly what `kb search --json` prints.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from conftest import run_kb
from serving import TOKEN, copy_kb, start_server

QUERY = "hvordan opbygger vi tillid hos skeptiske borgere"
TOOLS = {"search", "get_passage", "list_documents", "status"}


@pytest.fixture(scope="module")
def kb_root(indexed_fixture_template, tmp_path_factory) -> Path:
    return copy_kb(indexed_fixture_template, tmp_path_factory, "mcp")


@pytest.fixture(scope="module")
def server(kb_root):
    served = start_server(kb_root, env={"KB_TOKENS": TOKEN})
    yield served
    served.stop()


def http_transport(server, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return streamable_http_client(f"{server.url}/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=60))


def stdio_transport(kb_root: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k != "KB_HOME"}
    return StdioServerParameters(command=sys.executable, args=["-m", "search_cli.app", "--kb", str(kb_root), "mcp"],
                                 env=env, cwd=str(kb_root))


class Session:
    """One client session over one transport, kept open for the module: each call runs on the
    session's own event loop (a `kb mcp` process starts once, not once per test)."""

    def __init__(self, portal, client: Client):
        self.portal, self.client = portal, client

    def __call__(self, *calls):
        """Run tool calls in order; returns their results."""
        return [self.portal.call(self.client.list_tools) if name == "list_tools" else
                self.portal.call(self.client.call_tool, name, arguments) for name, arguments in calls]


@pytest.fixture(scope="module", params=["http", "stdio"])
def session(request, kb_root):
    transport = http_transport(request.getfixturevalue("server")) if request.param == "http" else stdio_transport(kb_root)
    with anyio.from_thread.start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Client(transport)) as client:
            yield Session(portal, client)


def test_tools_are_listed_with_strict_schemas(session):
    (listing,) = session(("list_tools", None))
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == TOOLS
    search = tools["search"].input_schema
    assert set(search["properties"]) == {"query", "top_k", "lang", "kind", "doc", "mode"}
    assert search["required"] == ["query"] and search["additionalProperties"] is False
    assert tools["get_passage"].input_schema["required"] == ["chunk_id"]
    assert all(tool.annotations.read_only_hint for tool in tools.values())


def test_search_gives_cited_text_and_the_json_contract(session, kb_root):
    cli = run_kb(kb_root, "search", QUERY, "--top-k", "3", "--json")
    assert cli.exit_code == 0, cli.output
    (result,) = session(("search", {"query": QUERY, "top_k": 3}))
    assert not result.is_error
    assert result.structured_content == cli.json()
    text = result.content[0].text
    for rank, hit in enumerate(cli.json()["results"], start=1):
        section = f" — {hit['section']}" if hit["section"] else ""
        assert f"{rank}. {hit['title']}{section} ({hit['language']}, {hit['kind']})" in text
        assert f"{hit['citation']} · {hit['chunk_id']}" in text
    assert re.findall(r"^(\d+)\. ", text, flags=re.M) == ["1", "2", "3"]


def test_a_weak_match_says_so_first(session, kb_root):
    junk, good = session(("search", {"query": "?!"}), ("search", {"query": QUERY, "top_k": 3}))
    assert junk.structured_content == run_kb(kb_root, "search", "?!", "--json").json()
    assert junk.structured_content["weak_match"] is True
    assert junk.content[0].text.startswith("Weak match (confidence 0.00 of 1): nothing below answers the question well")
    assert good.structured_content["weak_match"] is False and "Weak match" not in good.content[0].text


def test_search_filters_are_those_of_kb_search(session, kb_root):
    cli = run_kb(kb_root, "search", QUERY, "--lang", "nb", "--mode", "lexical", "--doc", "frivillige-partnere", "--json")
    (result,) = session(("search", {"query": QUERY, "lang": "nb", "mode": "lexical", "doc": ["frivillige-partnere"]}))
    assert result.structured_content == cli.json()


@pytest.mark.parametrize("name, arguments, mentions", [
    ("search", {"query": QUERY, "k": 3}, ("unknown argument 'k'", "query, top_k")),
    ("search", {"query": QUERY, "top_k": 500}, ("top_k", "200")),
    ("search", {"query": QUERY, "lang": "de"}, ("lang",)),
    ("search", {}, ("argument 'query' is required",)),
    ("search", {"query": "  "}, ("empty",)),
    ("get_passage", {"chunk_id": "nope#1"}, ("no passage 'nope#1'",)),
    ("get_passage", {"chunk_id": "tillid-i-praksis#1", "neighbours": 2}, ("unknown argument 'neighbours'",)),
    ("list_documents", {"all": True}, ("unknown argument 'all'",)),
])
def test_bad_arguments_are_errors_not_ignored(session, name, arguments, mentions):
    (result,) = session((name, arguments))
    assert result.is_error
    message = result.content[0].text
    assert "\n" not in message and "Traceback" not in message
    for needle in mentions:
        assert needle in message, (needle, message)


def test_an_unknown_tool_is_a_protocol_error(session):
    with pytest.raises(MCPError, match="unknown tool 'delete'"):
        session(("delete", {}))
    (listing,) = session(("list_tools", None))  # and the session goes on
    assert {tool.name for tool in listing.tools} == TOOLS


def test_get_passage_documents_and_status(session, kb_root):
    top = run_kb(kb_root, "search", QUERY, "-k", "1", "--json").json()["results"][0]
    passage, documents, status = session(("get_passage", {"chunk_id": top["chunk_id"], "context": 1}),
                                     ("list_documents", {}), ("status", {}))
    assert passage.structured_content["passage"]["text"] == top["text"]
    assert f"{top['citation']} · {top['chunk_id']}" in passage.content[0].text
    ids = {d["doc_id"] for d in documents.structured_content["documents"]}
    assert ids == {"tillid-i-praksis", "frivillige-partnere", "measuring-impact"}
    assert all(doc_id in documents.content[0].text for doc_id in ids)
    assert status.structured_content["documents"] == 3
    assert "3 documents" in status.content[0].text


def test_http_transport_needs_the_token(server):
    async def main():
        async with Client(http_transport(server, token=None)) as client:
            await client.list_tools()

    with pytest.raises(BaseException) as caught:  # the SDK wraps the refusal in exception groups
        anyio.run(main)
    assert "MCPError" in repr(caught.value)
    assert '"POST /mcp" 401' in server.log()


def test_questions_asked_over_mcp_stay_out_of_the_log(server):
    async def main():
        async with Client(http_transport(server)) as client:
            return await client.call_tool("search", {"query": "har Quarlesborg ret til hjælp"})

    assert not anyio.run(main).is_error
    log = server.log()
    assert '"POST /mcp" 200' in log
    assert "Quarlesborg" not in log


def test_the_first_mcp_requests_at_once_each_get_the_tools_while_searches_go_on(kb_root):
    """The server builds its MCP side at the first MCP request: requests that arrive together
    all wait for the one build, and the JSON API answers meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    served = start_server(kb_root)
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    try:
        with served.client() as client, ThreadPoolExecutor(6) as pool:
            mcp = [pool.submit(client.post, "/mcp", json=listing, headers=accept) for _ in range(4)]
            searches = [pool.submit(client.get, "/v1/search", params={"q": QUERY, "top_k": 1}) for _ in range(2)]
            answers = [future.result() for future in mcp]
            assert all(search.result().status_code == 200 for search in searches)
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        assert all({tool["name"] for tool in a.json()["result"]["tools"]} == TOOLS for a in answers)
    finally:
        log = served.stop()
    assert "Traceback" not in log
