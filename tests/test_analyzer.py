"""The lexical analyzer as a user meets it: which words and numbers a search finds."""

from __future__ import annotations

import pytest

from conftest import index_kb, md_doc, run_kb, select_encoder, write_corpus

ANNUAL_REPORT = md_doc("aarsrapport", """\
# Henvendelser

Kommunen modtog 437 henvendelser fra borgere i 2017, og 25% af dem handlede om hjemmehjælp og
praktisk støtte i hverdagen. De fleste kom fra ældre borgere, der bor alene, og fra deres pårørende,
som ønskede mere kontakt med medarbejderne.

# Klager

Efter § 17 i loven kan borgeren klage over en afgørelse inden fire uger. Sag 2023-0041 om
visitation blev afgjort i borgerens favør, fordi kommunen ikke havde hørt borgeren, før den
traf sin afgørelse om hjælp til rengøring.

# Frivillige

Omkring 200 frivillige hjælper hver uge i byens væresteder og på biblioteket, hvor de læser
avis med ældre borgere, drikker kaffe med dem og følger dem til lægen, når familien ikke kan.
""")


@pytest.fixture(scope="module")
def report_kb(tmp_path_factory):
    root = select_encoder(write_corpus(tmp_path_factory.mktemp("numbers"), {"aarsrapport.md": ANNUAL_REPORT}))
    assert index_kb(root).exit_code == 0
    return root


def sections_found(root, query: str) -> list[str]:
    run = run_kb(root, "search", query, "--mode", "lexical", "--json")
    assert run.exit_code == 0, run.output
    return [hit["section"] for hit in run.json()["results"]]


@pytest.mark.parametrize("query, section", [
    ("437", "Henvendelser"),
    ("2017", "Henvendelser"),
    ("25%", "Henvendelser"),
    ("§ 17", "Klager"),
    ("2023-0041", "Klager"),
    ("0041", "Klager"),
    ("200", "Frivillige"),
])
def test_numbers_are_searchable(report_kb, query, section):
    """Years, counts, percentages, paragraph and case numbers are what people look up."""
    assert sections_found(report_kb, query)[:1] == [section]


def test_a_number_finds_only_itself(report_kb):
    """2000 is not 200 or 20 (the shared Danish/Norwegian spelling collapses double letters)."""
    assert sections_found(report_kb, "2000") == []
    assert sections_found(report_kb, "20") == []
