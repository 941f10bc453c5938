"""Broken corpus files: one clear line per file, non-zero exit, the rest still indexed."""

from __future__ import annotations

import pytest

from conftest import FIXTURE_DOCS, index_summary, md_doc, run_kb

BODY = (
    "# Borgermøder\n\nKommunen holder borgermøder i forsamlingshuset, hvor borgere, foreninger og "
    "medarbejdere taler om nye løsninger for ældre, der føler sig ensomme i landsbyerne.\n"
)

# Lines `kb index` may write to stderr; anything else (a traceback, a continuation line) is a failure.
STDERR_PREFIXES = ("kb: skipped ", "added ", "embedding:", "writing index:")

BAD_DOCS = {
    "missing-language": (
        "mangler.md",
        "---\nid: mangler-sprog\ntitle: Uden sprog\nkind: guidance\n---\n" + BODY,
        ["language"],
    ),
    "wrong-language": (
        "tysk.md",
        md_doc("tysk-dokument", BODY, language="de"),
        ["language", "'da', 'nb' or 'en'"],
    ),
    "bad-id": (
        "bad-id.md",
        md_doc("Bad ID!", BODY),
        ["id"],
    ),
    "bad-kind": (
        "bad-kind.md",
        md_doc("forkert-type", BODY, kind="blogpost"),
        ["kind"],
    ),
    "invalid-yaml": (
        "yaml.md",
        "---\nid: yaml-fejl\ntitle: [Ufærdig liste\nlanguage: da\nkind: guidance\n---\n" + BODY,
        ["YAML"],
    ),
    "control-character-in-yaml": (
        "styretegn.md",
        "---\nid: styretegn\ntitle: Med \x86 styretegn\nlanguage: da\nkind: guidance\n---\n" + BODY,
        ["styretegn.md (front matter):2", "YAML", "control character 0x86"],
    ),
    "impossible-date": (
        "dato.md",
        md_doc("umulig-dato", BODY, extra="date: 2021-02-30\n"),
        ["dato.md", "YYYY-MM-DD"],
    ),
    "case-without-municipality": (
        "cases/case.md",
        md_doc("borgerbudget-case", BODY, kind="case",
               extra="country: DK\nyear: 2021\npolicy_area: ældre\nparticipants: [borgere, kommune]\n"
                     "summary: Borgerbudget i landsbyerne.\n"),
        ["municipality"],
    ),
    "sidecar-missing-title": (
        "sidecar.txt",  # the problem is reported against the sidecar that holds the fields
        None,  # written below with its sidecar
        ["title"],
    ),
}


def _write_bad(root, name, content):
    path = root / "corpus" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        path.write_text(BODY.replace("# Borgermøder\n\n", ""), encoding="utf-8")
        path.with_name("sidecar.meta.yaml").write_text("id: sidecar-doc\nlanguage: da\nkind: report\n", encoding="utf-8")
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _problem_lines(run, rel_path: str) -> list[str]:
    return [line for line in run.stderr_lines() if rel_path in line]


def _assert_good_docs_searchable(root):
    run = run_kb(root, "search", "volunteers in the local community", "--json", "-k", "5")
    assert run.exit_code == 0, run.output
    found = {hit["doc_id"] for hit in run.json()["results"]}
    assert {"tillid-i-praksis", "frivillige-partnere", "measuring-impact"} <= found


@pytest.mark.parametrize("case", list(BAD_DOCS))
def test_bad_metadata_is_one_line_naming_file_and_field(make_kb, case):
    name, content, expected = BAD_DOCS[case]
    root = make_kb(FIXTURE_DOCS)
    _write_bad(root, name, content)
    rel = "corpus/sidecar.meta.yaml" if name == "sidecar.txt" else f"corpus/{name}"

    run = run_kb(root, "index")
    run.assert_no_traceback()
    assert run.exit_code != 0, run.output
    lines = _problem_lines(run, rel)
    assert len(lines) == 1, run.stderr
    line = lines[0]
    assert line.startswith("kb: skipped "), line
    for needle in expected:
        assert needle in line, (needle, line)
    for other in run.stderr_lines():
        assert other.startswith(STDERR_PREFIXES), f"unexpected stderr line {other!r} in\n{run.stderr}"
    # the three good documents went in regardless
    summary = index_summary(run)
    assert summary["documents"] == 3 and summary["added"] == 3
    _assert_good_docs_searchable(root)


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("empty.txt", b"", "no text"),
        ("blank.md", md_doc("blank-doc", "\n\n   \n").encode(), "no text"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary"),
        ("latin1.txt", "Samskabelse på tværs af sektorer og foreninger i Århus\n".encode("latin-1"), "UTF-8"),
        ("latin1-front.md", md_doc("latin-doc", "Ældre borgere og frivillige mødes i forsamlingshuset.\n").encode("latin-1"), "UTF-8"),
    ],
)
def test_unreadable_files_get_a_clear_message_naming_the_file(make_kb, name, content, expected):
    root = make_kb(FIXTURE_DOCS)
    path = root / "corpus" / name
    path.write_bytes(content)
    if path.suffix == ".txt":
        path.with_name(path.stem + ".meta.yaml").write_text(
            f"id: {path.stem.replace('1', '-one')}\ntitle: Fil\nlanguage: da\nkind: other\n", encoding="utf-8"
        )
    run = run_kb(root, "index")
    run.assert_no_traceback()
    assert run.exit_code != 0, run.output
    lines = _problem_lines(run, f"corpus/{name}")
    assert len(lines) == 1, run.stderr
    assert expected in lines[0], lines[0]
    for other in run.stderr_lines():
        assert other.startswith(STDERR_PREFIXES), f"unexpected stderr line {other!r}"
    assert index_summary(run)["documents"] == 3
    _assert_good_docs_searchable(root)


def test_duplicate_id_is_reported_naming_both_files(make_kb):
    root = make_kb({**FIXTURE_DOCS, "copy.md": md_doc("measuring-impact", BODY, title="Anden titel")})
    run = run_kb(root, "index")
    run.assert_no_traceback()
    assert run.exit_code != 0
    problem = [line for line in run.stderr_lines() if line.startswith("kb: skipped ")]
    assert len(problem) == 1 and "measuring-impact" in problem[0]
    assert "corpus/copy.md" in problem[0] and "corpus/measure.md" in problem[0]
    assert index_summary(run)["documents"] == 3


def test_status_lists_problem_files(make_kb):
    root = make_kb(FIXTURE_DOCS)
    _write_bad(root, "tysk.md", md_doc("tysk-dokument", BODY, language="de"))
    run_kb(root, "index")
    run = run_kb(root, "status")
    assert run.exit_code == 0, run.output
    problems = [line for line in run.stdout.splitlines() if line.startswith("problem")]
    assert len(problems) == 1 and "corpus/tysk.md" in problems[0] and "language" in problems[0]


def test_a_broken_file_keeps_its_previously_indexed_version(make_kb):
    """File named after its id: breaking the metadata keeps the old passages searchable."""
    docs = {name: text for name, text in FIXTURE_DOCS.items() if name != "measure.md"}
    root = make_kb(docs | {"measuring-impact.md": FIXTURE_DOCS["measure.md"]})
    assert run_kb(root, "index").exit_code == 0
    path = root / "corpus" / "measuring-impact.md"
    path.write_text(path.read_text(encoding="utf-8").replace("language: en", "language: de"), encoding="utf-8")
    run = run_kb(root, "index")
    assert run.exit_code != 0
    assert index_summary(run)["removed"] == 0
    _assert_good_docs_searchable(root)


def test_a_broken_file_named_differently_from_its_id_keeps_its_previous_version(make_kb):
    root = make_kb(FIXTURE_DOCS)  # measure.md holds id measuring-impact
    assert run_kb(root, "index").exit_code == 0
    path = root / "corpus" / "measure.md"
    path.write_text(path.read_text(encoding="utf-8").replace("language: en", "language: de"), encoding="utf-8")
    run = run_kb(root, "index")
    assert run.exit_code != 0
    assert index_summary(run)["removed"] == 0, run.stderr
    _assert_good_docs_searchable(root)


def test_the_case_template_copied_and_filled_in_indexes(make_kb):
    """corpus/cases/README.md: copy _TEMPLATE.md to <id>.md, fill it in, run `kb index`."""
    from conftest import SHIPPED_CORPUS

    template = (SHIPPED_CORPUS / "cases" / "_TEMPLATE.md").read_text(encoding="utf-8")
    case = template.replace("id: kommune-aar-kort-titel", "id: nordby-2024-tillid")
    case += (
        "\nBorgerne i Nordby var skeptiske over for kommunen, indtil medarbejderne mødte dem i øjenhøjde "
        "og holdt faste møder i forsamlingshuset hver måned gennem hele året.\n"
    )
    root = make_kb(FIXTURE_DOCS | {"cases/_TEMPLATE.md": template, "cases/nordby-2024-tillid.md": case})
    run = run_kb(root, "index")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.stderr
    assert index_summary(run)["documents"] == 4  # the template itself is not a document
    run = run_kb(root, "search", "skeptiske borgere i Nordby forsamlingshuset", "--json", "-k", "1", "--kind", "case")
    assert run.exit_code == 0, run.output
    (hit,) = run.json()["results"]
    assert hit["doc_id"] == "nordby-2024-tillid" and hit["citation"].startswith("corpus/cases/nordby-2024-tillid.md:")


def test_a_norwegian_case_written_from_the_template_unquoted(make_kb, tmp_path):
    """`country: NO` is Norway, and yes/no/on/off are words: YAML 1.1 would read them as booleans."""
    from conftest import SHIPPED_CORPUS

    template = (SHIPPED_CORPUS / "cases" / "_TEMPLATE.md").read_text(encoding="utf-8")
    filled = {
        "id: kommune-aar-kort-titel": "id: drammen-2023-innbyggerpanel",
        'title: "Short title of the case"': "title: Innbyggerpanel i Drammen",
        "language: da ": "language: nb ",
        'municipality: "Eksempel Kommune"': "municipality: Drammen kommune",
        "country: DK ": "country: NO ",
        'policy_area: "beskæftigelse"': "policy_area: byutvikling",
        'tags: ["tillid", "borgerinddragelse"]': "tags: [tillit, yes, no, on, off]",
        'summary: "Two or three sentences: what was done, with whom, and what came of it."':
            "summary: Et panel av innbyggere ga råd om nye byrom.",
    }
    case = template
    for old, new in filled.items():
        assert old in case, old
        case = case.replace(old, new)
    case += (
        "\nInnbyggerpanelet i Drammen møttes fire ganger og skrev anbefalinger til bystyret om grønne byrom. "
        "Deltakerne fikk løpende svar på hva som skjedde med forslagene, og det ga tillit til prosessen.\n"
    )
    source = tmp_path / "drammen.md"
    source.write_text(case, encoding="utf-8")
    root = make_kb(FIXTURE_DOCS)

    added = run_kb(root, "add", str(source))
    added.assert_no_traceback()
    assert added.exit_code == 0, added.stderr
    assert added.stdout.split() == ["drammen-2023-innbyggerpanel", "nb", "corpus/cases/drammen-2023-innbyggerpanel.md"]
    stored = (root / "corpus" / "cases" / "drammen-2023-innbyggerpanel.md").read_text(encoding="utf-8")
    assert "country: NO " in stored  # the file is kept as written
    run = run_kb(root, "index")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.stderr
    assert index_summary(run)["documents"] == 4
    assert run_kb(root, "validate").exit_code == 0

    from indexer.load import load_document

    meta = load_document(root / "corpus" / "cases" / "drammen-2023-innbyggerpanel.md", root).meta
    assert meta.country == "NO" and meta.tags == ["tillit", "yes", "no", "on", "off"]
    assert meta.date == "2024-05-01"  # the template's quoted date; unquoted dates are tested below


@pytest.mark.parametrize("date", ["2024-05-01", "2024"])
def test_an_unquoted_iso_date_is_accepted(make_kb, date):
    doc = md_doc("dateret-note", BODY, extra=f"date: {date}\n")
    root = make_kb(FIXTURE_DOCS | {"dateret.md": doc})
    run = run_kb(root, "index")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.stderr
    assert index_summary(run)["documents"] == 4


@pytest.mark.parametrize("date", ['"2024-05-01"', '"2024-05"', '"2024"', "2024-05"])
def test_a_quoted_iso_date_is_accepted(make_kb, date):
    root = make_kb(FIXTURE_DOCS | {"dateret.md": md_doc("dateret-note", BODY, extra=f"date: {date}\n")})
    run = run_kb(root, "index")
    assert run.exit_code == 0, run.stderr


def test_a_date_that_is_not_iso_is_rejected(make_kb):
    root = make_kb(FIXTURE_DOCS | {"dateret.md": md_doc("dateret-note", BODY, extra='date: "1. maj 2024"\n')})
    run = run_kb(root, "index")
    assert run.exit_code != 0
    (line,) = [l for l in run.stderr_lines() if "corpus/dateret.md" in l]
    assert "date" in line and "ISO" in line
