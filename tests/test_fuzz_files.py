"""Random corpus files through `kb add`, `kb validate` and `kb index` (bench/fuzz_files.py):
exit 0, 1 or 2, one line per problem file, never a traceback, and the index still answers.

A handful of examples, the same every run, keep the suite fast; `python -m bench.fuzz_files
--examples 2000` explores many more.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from bench.fuzz_files import Example, examples, run_example


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(examples())
def test_random_files_keep_the_one_line_contract(example: Example) -> None:
    outcome = run_example(example)
    assert outcome.violations == [], example.describe() + "\n" + "\n".join(outcome.violations)
