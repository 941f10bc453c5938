"""A weak match says so: queries nothing answers get a note, a JSON flag and a low confidence;
real questions do not. Through the real CLI and a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_kb
from serving import copy_kb, start_server

NOTE = "kb: note: nothing matches this question well"
JUNK = ["og det er som vi har", "the of and to", "?!", "😀", "كيف نبني الثقة مع المواطنين"]
TRUST = "how do we build trust with skeptical citizens"


def search_json(root: Path, query: str, *args: str) -> dict:
    run = run_kb(root, "search", query, "--json", *args)
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    return run.json()


@pytest.mark.parametrize("query", JUNK)
def test_junk_gets_the_note_and_the_flag(shipped_kb, query):
    text = run_kb(shipped_kb, "search", query)
    assert text.exit_code == 0, text.output
    assert text.stdout.strip(), "the nearest passages are still shown"
    lines = text.stderr_lines()
    assert len(lines) == 1 and lines[0].startswith(NOTE), text.stderr
    answer = search_json(shipped_kb, query)
    assert answer["weak_match"] is True
    assert answer["results"] and all(r["confidence"] < 0.5 for r in answer["results"])
    assert answer["confidence"] < 0.5


def test_a_question_the_corpus_answers_is_not_weak(fixture_kb):
    """With the fake encoder (no fitted bar) confidence falls back on the words the index knows."""
    run = run_kb(fixture_kb, "search", "skeptiske borgere tillid")
    assert run.exit_code == 0, run.output
    assert NOTE not in run.stderr
    answer = search_json(fixture_kb, "skeptiske borgere tillid")
    assert answer["weak_match"] is False and answer["confidence"] >= 0.5
    assert answer["results"][0]["confidence"] >= 0.5


def test_lexical_mode_has_a_confidence_too(fixture_kb):
    assert search_json(fixture_kb, "skeptiske borgere tillid", "--mode", "lexical")["weak_match"] is False
    assert search_json(fixture_kb, "hvad er det", "--mode", "lexical")["weak_match"] is True


@pytest.mark.quality
def test_the_trust_question_is_confident_with_the_real_encoder(shipped_kb_real):
    run = run_kb(shipped_kb_real, "search", TRUST)
    assert run.exit_code == 0, run.output
    assert NOTE not in run.stderr
    answer = search_json(shipped_kb_real, TRUST)
    assert answer["weak_match"] is False and answer["results"][0]["confidence"] >= 0.5


@pytest.mark.quality
@pytest.mark.parametrize("query", JUNK + ["who won the football match last night", "opskrift på æblekage med kanel"])
def test_junk_is_weak_with_the_real_encoder(shipped_kb_real, query):
    assert search_json(shipped_kb_real, query)["weak_match"] is True


def test_a_handout_theme_with_nothing_good_says_so(shipped_kb, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "title: Samskabelse\naudience: Sagsbehandlere\nlanguage: da\nthemes:\n"
        "  - title: Tillid\n    questions: [\"tillid skeptiske borgere\"]\n"
        "  - title: Ingenting\n    questions: [\"?!\", \"😀\"]\n",
        encoding="utf-8",
    )
    run = run_kb(shipped_kb, "handout", str(plan))
    assert run.exit_code == 0, run.output
    trust, nothing = run.stdout.split("## 1. Tillid", 1)[1].split("## 2. Ingenting", 1)
    assert run.stderr_lines() == ["kb: note: nothing matches the questions of 'Ingenting' well; the handout says so under the theme"]
    weak = "Intet i kilderne besvarer disse spørgsmål godt"
    assert weak not in trust
    assert weak in nothing.split("## Kilder", 1)[0]
    out = tmp_path / "handout.html"
    assert run_kb(shipped_kb, "handout", str(plan), "--format", "html", "-o", str(out)).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert page.count('class="weak"') == 1
    assert page.index('class="weak"') > page.index('id="theme-2"')


@pytest.fixture(scope="module")
def server(indexed_fixture_template, tmp_path_factory):
    served = start_server(copy_kb(indexed_fixture_template, tmp_path_factory, "confidence"))
    yield served
    served.stop()


def test_the_server_carries_the_flag(server):
    with server.client() as http:
        junk = http.get("/v1/search", params={"q": "?!"})
        good = http.post("/v1/search", json={"q": "skeptiske borgere tillid"})
    assert junk.status_code == good.status_code == 200, (junk.text, good.text)
    assert junk.json()["weak_match"] is True and junk.json()["confidence"] < 0.5
    assert good.json()["weak_match"] is False
    assert all("confidence" in r for r in good.json()["results"])
