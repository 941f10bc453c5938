"""`kb serve`: a real server process on a free port, asked over HTTP with httpx.

What a client relies on: /v1/search answers exactly what `kb search --json` prints, the other
endpoints what `kb show`, `kb status` and `kb handout` give; errors are one JSON line with a
fitting status; tokens, Host/Origin checks and limits hold; the access log keeps questions out;
a generation `kb index` commits is answered from without a restart.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from conftest import REPO, index_kb, md_doc, run_kb, write_corpus
from serving import TOKEN, assert_json_error, copy_kb, serving, start_server, wait_for
from test_cli_errors import assert_one_line_error

from kb.reports import StatusReport
from kb import KnowledgeBase

QUERY = "hvordan opbygger vi tillid hos skeptiske borgere"
PRIVATE_WORD = "Quarlesborg"  # stands for a citizen's name in a question: never in the log by default

PLAN = """\
title: Tillid
audience: Medarbejdere
language: da
themes:
  - title: Tillid
    questions:
      - Hvordan skaber vi tillid hos skeptiske borgere?
    passages: 2
  - title: Frivillige
    questions:
      - Hvordan samarbejder kommunen med frivillige?
    passages: 1
"""

NEW_DOC = md_doc(
    "klimaraad-i-praksis",
    "# Klimaråd\n\nEt lokalt klimaråd samler borgere, foreninger og virksomheder om kommunens klimaplan. "
    "Rådet mødes hver måned, giver råd om cykelstier, fjernvarme og affaldssortering, og følger op på, "
    "om kommunen gør det, den har lovet i klimaplanen, så borgerne kan se resultaterne af deres arbejde.\n",
    title="Klimaråd i praksis",
)
NEW_QUERY = "klimaråd fjernvarme cykelstier"


@pytest.fixture(scope="module")
def kb_root(indexed_fixture_template, tmp_path_factory) -> Path:
    return copy_kb(indexed_fixture_template, tmp_path_factory, "served")


@pytest.fixture(scope="module")
def server(kb_root):
    with serving(kb_root) as served:
        yield served


@pytest.fixture(scope="module")
def http(server):
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def guarded(indexed_fixture_template, tmp_path_factory):
    """Listening on every address: read tokens required, a public host name, CORS for one origin,
    and the query text logged as its operator asked."""
    root = copy_kb(indexed_fixture_template, tmp_path_factory, "guarded")
    served = start_server(root, "--host", "0.0.0.0", "--allowed-host", "kb.example.org",
                          "--cors-origin", "https://intranet.example.org", "--log-queries",
                          env={"KB_TOKENS": f"another-token-abcdefghijkl,{TOKEN}"})
    served.url = served.url.replace("0.0.0.0", "127.0.0.1")
    yield served
    served.stop()


# -- the contract -------------------------------------------------------------------------------
@pytest.mark.parametrize("args, params", [
    (["--top-k", "3"], {"top_k": 3}),
    ([], {}),
    (["--lang", "nb", "-k", "2"], {"lang": "nb", "top_k": 2}),
    (["--kind", "report"], {"kind": "report"}),
    (["--doc", "tillid-i-praksis", "--doc", "measuring-impact"], {"doc": ["tillid-i-praksis", "measuring-impact"]}),
    (["--mode", "lexical"], {"mode": "lexical"}),
    (["--mode", "dense", "-k", "1"], {"mode": "dense", "top_k": 1}),
])
def test_search_answers_exactly_what_kb_search_json_prints(kb_root, http, args, params):
    cli = run_kb(kb_root, "search", QUERY, *args, "--json")
    assert cli.exit_code == 0, cli.output
    response = http.get("/v1/search", params={"q": QUERY, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == cli.json()
    posted = http.post("/v1/search", json={"q": QUERY, **params})
    assert posted.status_code == 200, posted.text
    assert posted.json() == cli.json()


def test_details_add_highlights_beside_the_contract(kb_root, http):
    plain = http.get("/v1/search", params={"q": QUERY}).json()
    detailed = http.get("/v1/search", params={"q": QUERY, "details": "true"}).json()
    assert {k: detailed[k] for k in plain} == plain
    assert set(detailed) == {*plain, "highlights", "analyzer_outdated"}
    assert detailed["analyzer_outdated"] is False
    assert len(detailed["highlights"]) == len(plain["results"])
    kb = KnowledgeBase.open(kb_root)
    try:  # the spans `kb search` would highlight, computed by the library itself
        spans = kb.highlighter(QUERY)
        expected = [[list(s) for s in spans(hit)] for hit in kb.search(QUERY, k=5).hits]
    finally:
        kb.close()
    assert detailed["highlights"] == expected
    top = plain["results"][0]
    marked = [top["text"][a:b].lower() for a, b in detailed["highlights"][0]]
    assert marked and any(word.startswith(("tillid", "skeptisk", "borger")) for word in marked), marked


def test_passage_is_what_kb_show_gives(kb_root, http):
    top = http.get("/v1/search", params={"q": QUERY, "top_k": 1}).json()["results"][0]
    response = http.get(f"/v1/passages/{top['chunk_id'].replace('#', '%23')}", params={"context": 1})
    assert response.status_code == 200, response.text
    body = response.json()
    kb = KnowledgeBase.open(kb_root)
    try:
        this, before, after = kb.passage(top["chunk_id"], 1)
    finally:
        kb.close()
    assert body["passage"] == this.model_dump(mode="json")
    assert body["before"] == [h.model_dump(mode="json") for h in before]
    assert body["after"] == [h.model_dump(mode="json") for h in after]
    assert body["passage"]["text"] == top["text"] and body["passage"]["citation"] == top["citation"]


def test_documents_lists_every_indexed_document(http):
    response = http.get("/v1/documents")
    assert response.status_code == 200
    docs = {d["doc_id"]: d for d in response.json()["documents"]}
    assert set(docs) == {"tillid-i-praksis", "frivillige-partnere", "measuring-impact"}
    assert docs["frivillige-partnere"]["language"] == "nb" and docs["frivillige-partnere"]["passages"] >= 1
    assert docs["measuring-impact"]["meta"]["title"] == "Measuring impact"


def test_status_renders_as_kb_status_prints(kb_root, http):
    response = http.get("/v1/status")
    assert response.status_code == 200
    report = StatusReport.model_validate(response.json())
    cli = run_kb(kb_root, "status")
    assert cli.exit_code == 0, cli.output
    drop_age = lambda text: [line for line in text.splitlines() if not line.startswith("built")]  # noqa: E731
    assert drop_age(report.render()) == drop_age(cli.stdout.rstrip("\n"))
    assert (report.documents, report.indexed) == (3, True)


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_handout_is_what_kb_handout_renders(kb_root, http, tmp_path, fmt):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    cli = run_kb(kb_root, "handout", str(plan), "--format", fmt)
    assert cli.exit_code == 0, cli.output
    response = http.post("/v1/handout", params={"format": fmt}, content=PLAN.encode(),
                         headers={"Content-Type": "application/yaml"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown" if fmt == "md" else "text/html")
    assert response.text == cli.stdout
    if fmt == "html":
        assert "default-src 'none'" in response.headers["content-security-policy"]


def test_handout_as_data_renders_as_kb_handout_prints(kb_root, http, tmp_path):
    """format=json gives the handout's data: a client renders it with kb's own renderer."""
    from kb.handout import Handout
    from search_cli import handout_render

    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    cli = run_kb(kb_root, "handout", str(plan))
    response = http.post("/v1/handout", params={"format": "json"}, content=PLAN.encode())
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    handout = Handout.model_validate(response.json())
    assert handout_render.markdown(handout) == cli.stdout
    assert [theme.title for theme in handout.themes] == ["Tillid", "Frivillige"]


def test_handout_plan_may_be_json(http):
    import yaml

    as_yaml = http.post("/v1/handout", content=PLAN.encode())
    as_json = http.post("/v1/handout", json=yaml.safe_load(PLAN))
    assert as_yaml.status_code == as_json.status_code == 200
    assert as_json.text == as_yaml.text


def test_openapi_describes_the_api(http):
    response = http.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert {"/v1/search", "/v1/passages/{chunk_id}", "/v1/documents", "/v1/status", "/v1/handout", "/health"} <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/v1/search"]["get"]["parameters"]}
    assert params == {"q", "top_k", "lang", "kind", "doc", "mode", "details"}


def test_health_says_ok_and_nothing_else(http):
    response = http.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, kwargs, status, mentions", [
    ("GET", "/v1/search", {"params": {"q": "   "}}, 400, ("empty",)),
    ("GET", "/v1/search", {}, 400, ("'q'", "required")),
    ("GET", "/v1/search", {"params": {"q": QUERY, "top_k": 0}}, 400, ("top_k",)),
    ("GET", "/v1/search", {"params": {"q": QUERY, "top_k": 201}}, 400, ("top_k", "200")),
    ("GET", "/v1/search", {"params": {"q": QUERY, "top_k": "ti"}}, 400, ("top_k",)),
    ("GET", "/v1/search", {"params": {"q": QUERY, "lang": "de"}}, 400, ("lang",)),
    ("GET", "/v1/search", {"params": {"q": QUERY, "mode": "fuzzy"}}, 400, ("mode",)),
    ("GET", "/v1/search", {"params": {"q": QUERY, "kind": "novel"}}, 400, ("kind",)),
    ("GET", "/v1/search", {"params": {"q": QUERY, "k": 3}}, 400, ("unknown parameter 'k'",)),
    ("GET", "/v1/search", {"params": {"q": "samskabelse " * 200}}, 400, ("characters", "2000")),
    ("POST", "/v1/search", {"json": {"q": QUERY, "topk": 3}}, 400, ("unknown field 'topk'",)),
    ("POST", "/v1/search", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, ("JSON",)),
    ("POST", "/v1/search", {"json": ["a", "list"]}, 400, ("object",)),
    ("GET", "/v1/passages/no-such-passage%231", {}, 404, ("no passage 'no-such-passage#1'",)),
    ("GET", "/v1/passages/tillid-i-praksis%231", {"params": {"context": 11}}, 400, ("context",)),
    ("GET", "/v1/passages/tillid-i-praksis%231", {"params": {"ctx": 2}}, 400, ("unknown parameter 'ctx'", "context")),
    ("GET", "/v1/documents", {"params": {"path": "/etc/passwd"}}, 400, ("unknown parameter 'path'",)),
    ("POST", "/v1/handout", {"content": b"title: x\n"}, 400, ("plan:1", "audience")),
    ("POST", "/v1/handout", {"content": b"title: [unclosed\n"}, 400, ("plan:", "not valid YAML")),
    ("POST", "/v1/handout", {"content": "title: æ".encode("latin-1")}, 400, ("UTF-8",)),
    ("POST", "/v1/handout", {"params": {"format": "pdf"}, "content": PLAN.encode()}, 400, ("format",)),
    ("POST", "/v1/handout", {"content": PLAN.replace("passages: 2", "passages: 0").encode()}, 400,
     ("plan:8", "theme 1 ('Tillid')", "passages")),
    ("POST", "/v1/handout", {"content": PLAN.replace("    passages: 1", "    documents: [nope]").encode()}, 400,
     ("plan:9", "nope", "known: ")),
    ("GET", "/v1/nothing-here", {}, 404, ("no such endpoint",)),
    ("DELETE", "/v1/documents", {}, 405, ("DELETE",)),
    ("PUT", "/v1/search", {"json": {"q": QUERY}}, 405, ("PUT",)),
])
def test_bad_requests_get_one_json_line_and_a_fitting_status(http, method, path, kwargs, status, mentions):
    assert_json_error(http.request(method, path, **kwargs), status, *mentions)


def test_a_handout_asks_at_most_sixty_questions(http):
    questions = "\n".join(f"      - Spørgsmål nummer {i} om tillid?" for i in range(61))
    plan = f"title: T\naudience: A\nthemes:\n  - title: Alt\n    questions:\n{questions}\n"
    assert_json_error(http.post("/v1/handout", content=plan.encode()), 400, "61 questions", "60")


def test_no_request_names_a_file_on_the_server(http):
    """Plans are content, not paths: a path in the body is only a (bad) plan."""
    assert_json_error(http.post("/v1/handout", content=str(REPO / "handouts" / "example.yaml").encode()), 400, "plan:1")


# -- limits --------------------------------------------------------------------------------------
def test_bodies_over_the_limit_are_refused_with_413(http):
    big = {"q": QUERY, "doc": ["x" * 100] * 800}  # ~80 kB
    assert_json_error(http.post("/v1/search", json=big), 413, "64 KiB")

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(100):
            yield b"# " + b"x" * 1022
    assert_json_error(http.post("/v1/handout", content=chunks()), 413)


def test_concurrent_requests_all_answer_as_sequential_ones_do(http):
    queries = [QUERY, "frivillige organisasjoner", "measuring value", "tillid", "samarbejde med foreninger"] * 4
    expected = {q: http.get("/v1/search", params={"q": q}).json() for q in set(queries)}
    answers: list = [None] * len(queries)

    def ask(i: int) -> None:
        with httpx.Client(base_url=str(http.base_url), timeout=60) as client:
            answers[i] = client.get("/v1/search", params={"q": queries[i]})

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    assert [a.json() for a in answers] == [expected[q] for q in queries]


# -- who may ask ----------------------------------------------------------------------------------
def test_host_and_origin_of_other_sites_are_refused(http):
    """DNS rebinding: a page on another site made to resolve to this machine."""
    assert_json_error(http.get("/v1/documents", headers={"Host": "evil.example:8765"}), 421, "evil.example")
    assert_json_error(http.get("/v1/documents", headers={"Origin": "http://evil.example"}), 403, "evil.example")
    assert_json_error(http.post("/mcp", json={}, headers={"Host": "evil.example"}), 421)
    assert http.get("/v1/documents", headers={"Origin": str(http.base_url).rstrip("/")}).status_code == 200
    assert http.get("/v1/documents", headers={"Host": "localhost"}).status_code == 200


def test_cors_is_off_unless_configured(http):
    response = http.options("/v1/search", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in response.headers


def test_tokens_are_required_when_configured(guarded):
    with guarded.client() as anonymous:
        response = anonymous.get("/v1/search", params={"q": QUERY})
        assert_json_error(response, 401, "Authorization: Bearer")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert_json_error(anonymous.get("/v1/documents", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
        assert_json_error(anonymous.post("/mcp", json={}), 401)
        assert anonymous.get("/health").status_code == 200  # public: no token, no details
        assert anonymous.get("/openapi.json").status_code == 200
    with guarded.client("wrong-token-0123456789abcdef") as wrong:
        assert_json_error(wrong.get("/v1/search", params={"q": QUERY}), 403, "not accepted")
    with guarded.client(TOKEN[:-1]) as almost:
        assert_json_error(almost.get("/v1/documents"), 403)
    with guarded.client(TOKEN) as right:
        assert right.get("/v1/search", params={"q": QUERY}).status_code == 200
        assert right.get("/v1/documents", headers={"Host": "kb.example.org"}).status_code == 200
        assert_json_error(right.get("/v1/documents", headers={"Host": "other.example.org"}), 421)
    with guarded.client("another-token-abcdefghijkl") as second:
        assert second.get("/v1/status").status_code == 200


def test_cors_answers_the_configured_origin_only(guarded):
    with guarded.client() as client:
        allowed = client.options("/v1/search", headers={"Origin": "https://intranet.example.org",
                                                        "Access-Control-Request-Method": "GET",
                                                        "Access-Control-Request-Headers": "authorization"})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://intranet.example.org"
    with guarded.client(TOKEN) as client:
        response = client.get("/v1/documents", headers={"Origin": "https://intranet.example.org"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://intranet.example.org"
        assert_json_error(client.get("/v1/documents", headers={"Origin": "https://evil.example"}), 403)


@pytest.mark.parametrize("args, env, mentions", [
    (["--host", "0.0.0.0", "--allowed-host", "kb.example.org"], {}, ("--host 0.0.0.0", "tokens", "--token-file")),
    (["--host", "192.0.2.7"], {}, ("tokens",)),
    (["--host", "0.0.0.0"], {"KB_TOKENS": TOKEN}, ("--allowed-host",)),
    ([], {"KB_TOKENS": "short"}, ("KB_TOKENS", "16")),
    (["--token-file", "no-such-file"], {}, ("--token-file", "no-such-file")),
    ([], {"KB_TOKEN_FILE": "no-such-file"}, ("KB_TOKEN_FILE",)),
    (["--cors-origin", "*"], {}, ("--cors-origin",)),
    (["--port", "70000"], {}, ("--port",)),
])
def test_serve_refuses_unsafe_or_broken_settings(fixture_kb, args, env, mentions):
    run = run_kb(fixture_kb, "serve", *args, env=env)
    assert_one_line_error(run, usage=True, mentions=mentions)


def test_token_file_is_read_and_checked(fixture_kb, tmp_path):
    empty = tmp_path / "empty-tokens"
    empty.write_text("# no tokens yet\n\n", encoding="utf-8")
    assert_one_line_error(run_kb(fixture_kb, "serve", "--token-file", str(empty)), usage=True, mentions=("holds no token",))
    weak = tmp_path / "weak-tokens"
    weak.write_text(f"{TOKEN}\nsecret\n", encoding="utf-8")
    assert_one_line_error(run_kb(fixture_kb, "serve", "--token-file", str(weak)), usage=True,
                          mentions=(f"{weak}:2", "16"))
    good = tmp_path / "tokens"
    good.write_text(f"# the team\n{TOKEN}\n", encoding="utf-8")
    served = start_server(fixture_kb, "--token-file", str(good))
    try:
        with served.client() as anonymous:
            assert_json_error(anonymous.get("/v1/documents"), 401)
        with served.client(TOKEN) as client:
            assert client.get("/v1/documents").status_code == 200
    finally:
        served.stop()
    assert TOKEN not in served.log()


def test_the_port_in_use_is_one_line(fixture_kb, server):
    port = server.url.rsplit(":", 1)[1]
    run = run_kb(fixture_kb, "serve", "--port", port)
    assert_one_line_error(run, usage=True, mentions=(f"127.0.0.1:{port}", "--port"))


# -- the access log ------------------------------------------------------------------------------
def test_access_log_keeps_questions_out_by_default(server, http):
    question = f"har {PRIVATE_WORD} ret til at deltage i borgerpanelet"
    assert http.get("/v1/search", params={"q": question}).status_code == 200
    assert http.post("/v1/search", json={"q": question, "top_k": 2}).status_code == 200
    log = wait_for(lambda: (text := server.log()).count('"POST /v1/search" 200') and text)
    assert '"GET /v1/search" 200' in log
    assert PRIVATE_WORD not in log and "borgerpanelet" not in log


def test_access_log_records_questions_when_configured(guarded):
    question = f"har {PRIVATE_WORD} ret til at deltage"
    with guarded.client(TOKEN) as client:
        assert client.post("/v1/search", json={"q": question}).status_code == 200
    log = wait_for(lambda: PRIVATE_WORD in guarded.log() and guarded.log())
    assert f"query={question!r}" in log
    assert TOKEN not in log


# -- generations ------------------------------------------------------------------------------------
def test_a_snapshot_keeps_its_generation_while_a_new_one_is_committed(fixture_kb):
    kb = KnowledgeBase.open(fixture_kb)
    try:
        kb.search(QUERY)  # encoder and index loaded, as in a server
        snapshot = kb.snapshot()
        (fixture_kb / "corpus" / "klimaraad.md").write_text(NEW_DOC, encoding="utf-8")
        assert index_kb(fixture_kb).exit_code == 0
        # the snapshot answers from the generation it was taken on, every call of it ...
        assert len(snapshot.documents()) == 3
        assert all(h.doc_id != "klimaraad-i-praksis" for h in snapshot.search(NEW_QUERY, k=10).hits)
        assert snapshot.manifest.documents == 3
        # ... and the knowledge base itself has moved on
        assert len(kb.documents()) == 4
        assert kb.search(NEW_QUERY, k=1).hits[0].doc_id == "klimaraad-i-praksis"
        assert kb.snapshot().manifest.generation != snapshot.manifest.generation
    finally:
        kb.close()


def test_server_waits_for_an_index_then_follows_each_new_generation(make_kb):
    root = make_kb()
    served = start_server(root)
    try:
        with served.client() as client:
            assert_json_error(client.get("/v1/search", params={"q": QUERY}), 503, "no index", "kb index")
            assert_json_error(client.get("/v1/documents"), 503, "kb index")
            status = client.get("/v1/status")
            assert status.status_code == 200 and status.json()["indexed"] is False
            assert client.get("/health").status_code == 200

            assert index_kb(root).exit_code == 0
            first = client.get("/v1/search", params={"q": QUERY})
            assert first.status_code == 200 and first.json()["results"]
            first_gen = first.headers["KB-Generation"]

            write_corpus(root, {"klimaraad.md": NEW_DOC})
            assert index_kb(root).exit_code == 0
            answer = wait_for(lambda: (r := client.get("/v1/search", params={"q": NEW_QUERY, "top_k": 1}))
                              .json()["results"][0]["doc_id"] == "klimaraad-i-praksis" and r)
            assert answer, "the server never answered from the new generation"
            assert answer.headers["KB-Generation"] != first_gen
            assert len(client.get("/v1/documents").json()["documents"]) == 4
            assert served.proc.poll() is None  # the same process throughout
        # the watcher loads each committed generation by itself, whether or not a request came first
        assert wait_for(lambda: f"answering from {answer.headers['KB-Generation']}" in served.log(), timeout=15)
    finally:
        served.stop()


def test_requests_during_a_commit_each_answer_from_one_generation(fixture_kb):
    """Clients keep asking while `kb index` adds a document: every answer is whole, from the old
    generation or the new one (3 or 4 documents, a handout whose sources all exist)."""
    served = start_server(fixture_kb)
    stop = threading.Event()
    answers: list[httpx.Response] = []

    def ask() -> None:
        with served.client() as client:
            while not stop.is_set():
                answers.append(client.get("/v1/documents"))
                answers.append(client.post("/v1/handout", content=PLAN.encode()))

    try:
        threads = [threading.Thread(target=ask) for _ in range(3)]
        for t in threads:
            t.start()
        # the old generation answers first: the commit must come after, not race the first request
        wait_for(lambda: any(a.request.url.path == "/v1/documents" for a in answers))
        write_corpus(fixture_kb, {"klimaraad.md": NEW_DOC})
        assert index_kb(fixture_kb).exit_code == 0
        with served.client() as client:
            wait_for(lambda: len(client.get("/v1/documents").json()["documents"]) == 4)
        stop.set()
        for t in threads:
            t.join()
    finally:
        stop.set()
        served.stop()
    assert answers and all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200][:3]
    counts = {len(a.json()["documents"]) for a in answers if a.request.url.path == "/v1/documents"}
    assert counts <= {3, 4} and 3 in counts


def test_the_json_error_shape_is_declared_in_openapi(http):
    spec = http.get("/openapi.json").json()
    responses = spec["paths"]["/v1/search"]["get"]["responses"]
    assert {"400", "401", "403", "413", "503"} <= set(responses)
    error_schema = json.dumps(spec["components"]["schemas"]["ErrorAnswer"])
    assert '"error"' in error_schema


def test_requests_beyond_the_queue_are_told_to_come_back(fixture_kb):
    import asyncio

    from kb_server.engine import Engine
    from kb_server.errors import Busy, kb_error_response

    engine = Engine(KnowledgeBase.open(fixture_kb), max_pending=1)
    release = threading.Event()

    async def main():
        first = asyncio.ensure_future(engine.call(lambda kb: release.wait(30)))
        await asyncio.sleep(0.1)  # the worker is busy with it
        with pytest.raises(Busy, match="try again") as refused:
            await engine.call(Engine.documents)
        answer = kb_error_response(refused.value)  # what a client gets
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1")
        release.set()
        assert (await first).value is True
        assert len((await engine.call(Engine.documents)).value.documents) == 3

    try:
        asyncio.run(main())
    finally:
        release.set()
        engine.close()


# Searches that differ in everything a search takes; the last one is refused (an empty question).
TOGETHER = [
    {"q": QUERY},
    {"q": "frivillige foreninger og kommunen", "top_k": 2, "lang": "nb"},
    {"q": "measuring outcomes with civil society", "mode": "dense", "top_k": 1},
    {"q": QUERY, "mode": "lexical", "top_k": 3},
    {"q": "tillid og dialog", "kind": "guidance", "details": "true"},
    {"q": "samarbejde", "doc": ["measuring-impact", "frivillige-partnere"], "top_k": 4},
    {"q": "skeptiske borgere", "mode": "dense", "lang": "da"},
    {"q": "   "},
]
BUSY_PLAN = "title: Travlt\naudience: Alle\nlanguage: da\nthemes:\n" + "".join(
    f"  - title: Tema {n}\n    questions:\n      - Hvordan skaber vi tillid nummer {n}?\n    passages: 1\n" for n in range(20))


def test_concurrent_searches_each_answer_as_if_alone(server, http):
    """Searches arriving together are embedded in one encoder call (the worker is kept busy with
    a handout meanwhile, so they queue); none gets another's answer, filters or error."""
    def ask(params: dict, client: httpx.Client):
        response = client.get("/v1/search", params=params)
        return response.status_code, response.json(), response.headers.get("KB-Generation")

    alone = [ask(params, http) for params in TOGETHER]
    assert [status for status, _, _ in alone] == [200] * (len(TOGETHER) - 1) + [400]
    for round_ in range(3):
        got: list = [None] * len(TOGETHER)

        def one(i: int) -> None:
            with server.client() as client:
                got[i] = ask(TOGETHER[i], client)

        busy = threading.Thread(target=lambda: http.post("/v1/handout", params={"format": "json"}, content=BUSY_PLAN))
        busy.start()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(TOGETHER))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        busy.join(60)
        assert got == alone, round_


def test_searches_waiting_together_are_embedded_in_one_encoder_call(fixture_kb, monkeypatch):
    import asyncio

    from kb_server.engine import Engine
    from kb_server.schemas import SearchFilters

    searches = [(params["q"], SearchFilters(**{k: v for k, v in params.items() if k not in ("q", "details")}))
                for params in TOGETHER[:-1]]
    engine = Engine(KnowledgeBase.open(fixture_kb))
    release = threading.Event()
    embedded: list[int] = []

    async def main():
        alone = [await engine.search(text, filters) for text, filters in searches]
        encoder = engine.kb.embedder
        real = encoder.embed_queries
        monkeypatch.setattr(encoder, "embed_queries", lambda texts: embedded.append(len(texts)) or real(texts))
        first = asyncio.ensure_future(engine.call(lambda kb: release.wait(30)))
        await asyncio.sleep(0.1)  # the worker is busy with it; the searches queue
        waiting = [asyncio.ensure_future(engine.search(text, filters)) for text, filters in searches]
        await asyncio.sleep(0.1)
        release.set()
        await first
        assert [await answer for answer in waiting] == alone
        assert embedded == [sum(filters.mode != "lexical" for _, filters in searches)]

    try:
        asyncio.run(main())
    finally:
        release.set()
        engine.close()


@pytest.mark.parametrize("command", ["serve", "mcp"])
def test_without_the_server_extra_one_line_says_what_to_install(fixture_kb, command):
    import subprocess
    import sys

    blocked = "import sys; sys.modules['fastapi'] = None; from search_cli.app import main; main()"
    proc = subprocess.run([sys.executable, "-c", blocked, "--kb", str(fixture_kb), command],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "kb: error: serving needs fastapi, which this install lacks: pip install 'kb-samskabelse[server]'"]


def test_a_slow_status_report_holds_up_no_search(fixture_kb, monkeypatch):
    """Status reads the whole corpus (seconds at a million passages): searches do not wait for it."""
    import asyncio

    import indexer.status
    from kb_server.engine import Engine
    from kb_server.schemas import SearchFilters

    engine = Engine(KnowledgeBase.open(fixture_kb))
    reading = threading.Event()
    release = threading.Event()
    real = indexer.status.knowledge_base_status

    def slow_status(kb):
        reading.set()
        release.wait(30)
        return real(kb)

    monkeypatch.setattr(indexer.status, "knowledge_base_status", slow_status)

    async def main():
        status = asyncio.ensure_future(engine.status())
        assert await asyncio.to_thread(reading.wait, 30)
        answer = await asyncio.wait_for(engine.search("tillid", SearchFilters()), 10)
        assert answer.value["results"] and not status.done()  # answered while the report was being read
        release.set()
        report = (await status).value
        assert (report.documents, report.damaged) == (3, [])

    try:
        asyncio.run(main())
    finally:
        release.set()
        engine.close()
