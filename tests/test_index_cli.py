"""Index round trip through the CLI: build, search with citations, incremental updates, status."""

from __future__ import annotations

import json
import re


from conftest import index_summary, md_doc, run_kb, run_kb_process

TRUST_QUERY = "hvordan opbygger vi tillid hos skeptiske borgere"


def cited_lines(root, citation: str) -> str:
    match = re.fullmatch(r"(corpus/[^:]+):(\d+)(?:-(\d+))?", citation)
    assert match, citation
    path, first, last = match.group(1), int(match.group(2)), int(match.group(3) or match.group(2))
    lines = (root / path).read_text(encoding="utf-8").split("\n")
    return "\n".join(lines[first - 1 : last])


def search_json(root, query: str, *args: str) -> list[dict]:
    run = run_kb(root, "search", query, "--json", *args)
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    return run.json()["results"]


def status_text(root) -> str:
    run = run_kb(root, "status")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    return run.stdout


def test_index_then_search_cites_file_and_lines(make_kb):
    root = make_kb()
    run = run_kb(root, "index")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    summary = index_summary(run)
    assert summary["added"] == 3 and summary["documents"] == 3
    assert summary["passages"] >= 3 and summary["embedded"] >= summary["passages"]
    assert run.stdout == ""  # progress and summary go to stderr

    results = search_json(root, TRUST_QUERY, "-k", "3")
    top = results[0]
    assert top["doc_id"] == "tillid-i-praksis"
    assert top["citation"] == "corpus/tillid.md:9-11"
    assert top["section"] == "Tillid"
    cited = cited_lines(root, top["citation"])
    assert "skeptiske" in cited and "tillidsopbygning" in cited
    assert " ".join(top["text"].split()) == " ".join(cited.split())

    results = search_json(root, "lyt til borgernes erfaringer og giv plads til kritik", "-k", "1")
    assert results[0]["section"] == "Trin 1: Lyt til borgerne"
    assert results[0]["citation"] == "corpus/tillid.md:15-17"


def test_markdown_output_quotes_passage_with_citation(fixture_kb):
    run = run_kb(fixture_kb, "search", TRUST_QUERY, "-k", "1", "--format", "md")
    assert run.exit_code == 0, run.output
    assert run.stdout.startswith(f"### {TRUST_QUERY}\n")
    assert "> Borgerne er ofte skeptiske" in run.stdout
    assert "`corpus/tillid.md:9-11`" in run.stdout


def test_reindex_without_changes_embeds_nothing(fixture_kb):
    run = run_kb(fixture_kb, "index")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    summary = index_summary(run)
    assert (summary["added"], summary["changed"], summary["removed"], summary["unchanged"]) == (0, 0, 0, 3)
    assert summary["embedded"] == 0
    assert "unchanged 3" in run.stderr


def test_status_shows_counts_and_no_changes(fixture_kb):
    passages = index_summary(run_kb(fixture_kb, "index"))["passages"]
    text = status_text(fixture_kb)
    assert str(fixture_kb) in text
    assert re.search(rf"^index\s+3 documents, {passages} passages", text, re.M), text
    assert re.search(r"^model\s+fake:hashed-ngrams \(384 d\)$", text, re.M), text
    assert re.search(r"^since indexing\s+no changes$", text, re.M), text


def test_an_index_from_an_older_analyzer_is_named_by_status_and_updated_by_index(fixture_kb, monkeypatch):
    """After an upgrade that changes stemming or the glossary, status says why every document
    changed; `kb index` re-indexes them without embedding anything again."""
    with monkeypatch.context() as older:
        older.setattr("kb.lexical.ANALYZER_VERSION", "5")
        run_kb(fixture_kb, "index")
    index = fixture_kb / ".kb"
    lexical = index / (index / "CURRENT").read_text(encoding="utf-8").strip() / "lexical"
    (lexical / "concepts.json").unlink()  # analyzer 5 wrote none, and its manifest listed none
    manifest = json.loads((lexical.parent / "manifest.json").read_text(encoding="utf-8"))
    for files in (manifest["file_sizes"], manifest["checksums"]):
        del files["lexical/concepts.json"]
    (lexical.parent / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert search_json(fixture_kb, TRUST_QUERY, "-k", "1")[0]["doc_id"] == "tillid-i-praksis"  # still answers
    assert "another analyzer (stemming, glossary)" in run_kb(fixture_kb, "search", TRUST_QUERY).stderr

    text = status_text(fixture_kb)
    assert re.search(r"^settings\s+the analyzer \(stemming, glossary\) changed since indexing: `kb index`", text, re.M), text
    assert "0 new, 3 changed, 0 removed" in text, text

    summary = index_summary(run_kb(fixture_kb, "index"))
    assert (summary["changed"], summary["embedded"]) == (3, 0)
    text = status_text(fixture_kb)
    assert "settings" not in text and "no changes" in text, text
    assert "analyzer" not in run_kb(fixture_kb, "search", TRUST_QUERY).stderr


def test_edit_add_remove_are_seen_by_status_and_applied_by_index(fixture_kb):
    corpus = fixture_kb / "corpus"
    measure = corpus / "measure.md"
    measure.write_text(
        measure.read_text(encoding="utf-8")
        + "\nA shared dashboard of outcomes, agreed with the volunteers, replaced the meeting counts.\n",
        encoding="utf-8",
    )
    (corpus / "ny.md").write_text(md_doc("ny-note", "Ungdomsrådet planlagde nye mødesteder sammen med "
                                         "forvaltningen og fik sit eget budget til skaterbanen i bydelen.\n"),
                                  encoding="utf-8")
    (corpus / "frivillige.md").unlink()

    text = status_text(fixture_kb)
    assert "1 new, 1 changed, 1 removed" in text, text
    assert re.search(r"^\s+changed\s+corpus/measure\.md$", text, re.M), text
    assert re.search(r"^\s+new\s+corpus/ny\.md$", text, re.M), text
    assert re.search(r"^\s+removed\s+frivillige-partnere$", text, re.M), text
    assert "tillid.md" not in text.split("since indexing", 1)[1]

    run = run_kb(fixture_kb, "index")
    assert run.exit_code == 0, run.output
    summary = index_summary(run)
    assert (summary["added"], summary["changed"], summary["removed"], summary["unchanged"]) == (1, 1, 1, 1)
    assert 0 < summary["embedded"]
    assert "no changes" in status_text(fixture_kb)

    hits = search_json(fixture_kb, "shared dashboard of outcomes agreed with the volunteers", "-k", "1")
    assert hits[0]["doc_id"] == "measuring-impact" and "shared dashboard" in hits[0]["text"]
    hits = search_json(fixture_kb, "skaterbanen ungdomsrådet budget", "-k", "1")
    assert hits[0]["doc_id"] == "ny-note"
    all_hits = search_json(fixture_kb, "frivillige organisasjoner lokalmiljøet", "-k", "20")
    assert "frivillige-partnere" not in {h["doc_id"] for h in all_hits}


def test_search_without_index_builds_it_first(make_kb):
    root = make_kb()
    assert not (root / ".kb").exists()
    run = run_kb(root, "search", TRUST_QUERY, "--json", "-k", "2")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    assert "no index yet" in run.stderr
    assert index_summary(run)["documents"] == 3
    results = run.json()["results"]  # stdout holds nothing but the answer
    assert results[0]["doc_id"] == "tillid-i-praksis"
    again = run_kb(root, "search", TRUST_QUERY, "--json", "-k", "2")
    assert again.exit_code == 0 and "no index yet" not in again.stderr


def test_kb_home_and_working_directory_locate_the_knowledge_base(fixture_kb, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_HOME", str(fixture_kb))
    run = run_kb(None, "search", TRUST_QUERY, "--json", "-k", "1")
    assert run.exit_code == 0, run.output
    assert run.json()["results"][0]["doc_id"] == "tillid-i-praksis"
    monkeypatch.delenv("KB_HOME")
    monkeypatch.chdir(fixture_kb / "corpus")  # any folder inside the knowledge base
    run = run_kb(None, "status")
    assert run.exit_code == 0, run.output
    assert f"knowledge base  {fixture_kb}" in run.stdout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run = run_kb(None, "status")
    run.assert_no_traceback()
    assert run.exit_code != 0 and run.stderr.startswith("kb: error:")


def test_a_renamed_file_is_cited_under_its_new_name(fixture_kb):
    corpus = fixture_kb / "corpus"
    (corpus / "measure.md").rename(corpus / "impact.md")
    assert "no changes" not in status_text(fixture_kb)
    run = run_kb(fixture_kb, "index")
    assert run.exit_code == 0, run.output
    hit = search_json(fixture_kb, "municipalities rarely measure the value of civil society", "-k", "1")[0]
    assert hit["doc_id"] == "measuring-impact"
    assert hit["citation"].startswith("corpus/impact.md:"), hit["citation"]


# -- human-readable output in a real process --------------------------------------------------------

def test_text_output_and_show_in_a_real_process(fixture_kb):
    proc = run_kb_process(fixture_kb, "search", TRUST_QUERY, "-k", "2")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    first = proc.stdout.split("\n\n")[0]
    assert first.startswith("1. [")
    assert "Tillid i praksis — Tillid  (da, guidance)" in first
    assert "corpus/tillid.md:9-11  ·  tillid-i-praksis#1" in first
    assert "skeptiske" in first

    proc = run_kb_process(fixture_kb, "show", "tillid-i-praksis#1", "--context", "1")
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert out.startswith("Tillid i praksis (da, guidance)")
    assert "corpus/tillid.md:9-11 · tillid-i-praksis#1 · Tillid" in out
    assert "Borgerne er ofte skeptiske, når kommunen inviterer til samarbejde" in out
    assert "… corpus/tillid.md:15-17" in out  # the neighbour after it
    assert "Start med at lytte til borgernes erfaringer" in out


def test_text_output_goes_to_the_current_stdout_on_every_call(fixture_kb):
    for _ in range(2):
        run = run_kb(fixture_kb, "search", TRUST_QUERY, "-k", "1")
        assert run.exit_code == 0, run.output
        assert "corpus/tillid.md:9-11" in run.stdout
    run = run_kb(fixture_kb, "show", "tillid-i-praksis#1")
    assert run.exit_code == 0, run.output
    assert "tillid-i-praksis#1" in run.stdout
