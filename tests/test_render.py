"""What a caseworker sees in the terminal: matched words highlighted, colour only where wanted."""

from __future__ import annotations

import re

import click
from click.testing import CliRunner

from search_cli.app import cli
from search_cli.render import highlighted

BOLD_YELLOW = "\x1b[33m\x1b[1m"


def bold_runs(styled: str) -> list[str]:
    """The highlighted stretches a reader sees (adjacent styled pieces read as one)."""
    merged = styled.replace(f"\x1b[0m{BOLD_YELLOW}", "")
    return re.findall(r"\x1b\[33m\x1b\[1m(.*?)\x1b\[0m", merged, flags=re.S)


def test_spans_are_highlighted_line_by_line_and_overlaps_merge():
    text = "Tillid kommer først.\nDerefter kommer samskabelse."
    spans = [(0, 6), (3, 13), (text.index("samskabelse"), len(text) - 1)]
    out = highlighted(text, spans)
    assert click.unstyle(out) == "   Tillid kommer først.\n   Derefter kommer samskabelse."
    assert bold_runs(out) == ["Tillid kommer", "samskabelse"]
    # a span across the line break goes on after the indent of the next line
    assert bold_runs(highlighted(text, [(text.index("først"), 25)])) == ["først.", "Dere"]


def test_search_colours_a_terminal_and_respects_no_color(fixture_kb):
    args = ["--kb", str(fixture_kb), "search", "tillidsopbygning", "-k", "1"]
    coloured = CliRunner().invoke(cli, args, color=True)
    assert coloured.exit_code == 0, coloured.output
    assert f"{BOLD_YELLOW}tillidsopbygning" in coloured.output
    for env in ({"NO_COLOR": "1"}, {}):
        plain = CliRunner().invoke(cli, args, color=not env, env=env) if env else CliRunner().invoke(cli, args)
        assert "\x1b[" not in plain.output and "tillidsopbygning" in plain.output


def test_an_empty_answer_names_the_filters_that_emptied_it(fixture_kb):
    run = CliRunner().invoke(cli, ["--kb", str(fixture_kb), "search", "tillid", "--kind", "case", "--lang", "da"])
    assert run.exit_code == 0, run.output
    assert run.output.strip() == "No passages found among documents matching --lang da --kind case: try without them."
