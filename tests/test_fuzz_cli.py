"""Random questions, option values, handout plans and query sets through the CLI: every one ends
with exit 0, 1 or 2 and at most one line on stderr, never a traceback, and the index still answers.

A few dozen inputs, the same each run; `python -m bench.fuzz --examples 5000` tries many more.
"""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given, settings

from bench.fuzz import FUZZ_SETTINGS, Case, cases, index_answers, known_in, problems, run_case


@pytest.fixture(scope="module")
def fuzz_kb(indexed_fixture_template, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "kb"
    shutil.copytree(indexed_fixture_template, root)
    return root


def test_random_input_never_ends_in_a_traceback(fuzz_kb, tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz-cwd")
    tried: list[Case] = []

    @settings(max_examples=40, derandomize=True, **FUZZ_SETTINGS)
    @given(cases(known_in(fuzz_kb)))
    def check(case: Case) -> None:
        tried.append(case)
        assert problems(run_case(fuzz_kb, work, case)) == [], str(case)

    check()
    assert len(tried) >= 40
    assert {case.argv[0] for case in tried} == {"search", "show", "handout", "eval"}
    assert index_answers(fuzz_kb) == []
