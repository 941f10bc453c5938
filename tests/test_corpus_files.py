"""Odd files through `kb add`, `kb index` and `kb validate`: one line per file, the rest goes on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import FIXTURE_DOCS, TRUST_DA, index_summary, md_doc, run_kb
from test_cli_errors import assert_one_line_error

DANISH = (
    "Kommunen har brug for nogle nye måder at arbejde sammen med borgerne på. Efter mange år med "
    "høringer, hvor meget lidt blev ændret, vil vi nu inddrage foreningerne tidligt. Hvad kræver "
    "det af medarbejderne, og hvordan skaber vi et fællesskab mellem forvaltning og civilsamfund?"
)
NORWEGIAN = (
    "Kommunen trenger noen nye måter å arbeide sammen med innbyggerne på. Etter mange år med "
    "høringer, der svært lite ble endret, vil vi nå involvere frivillige lag tidlig. Hva krever "
    "det av de ansatte, og hvordan skaper vi et fellesskap mellom forvaltning og sivilsamfunn?"
)
LONG_NAME = "referat-" + "a" * 238 + ".txt"  # 250 characters: a sidecar beside it would need 256
# Lines `kb index` may write to stderr besides one per problem file.
INDEX_LINES = ("kb: skipped ", "added ", "embedding:", "writing index:")


@pytest.fixture
def root(tmp_path) -> Path:
    folder = tmp_path / "kb"
    (folder / "corpus" / "documents").mkdir(parents=True)
    (folder / "corpus" / "documents" / "tillid.md").write_text(TRUST_DA, encoding="utf-8")
    return folder


@pytest.fixture
def incoming(tmp_path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


def added_ids(run) -> list[str]:
    return [line.split()[0] for line in run.stdout.splitlines()]


def not_added(run) -> list[str]:
    """The problem lines of `kb add`; anything else on stderr is the summary or a failure."""
    lines = run.stderr_lines()
    for line in lines:
        assert line.startswith(("kb: not added: ", "added ")), f"unexpected stderr line {line!r}"
    return [line for line in lines if line.startswith("kb: not added: ")]


def one_line_for(lines: list[str], name: str) -> str:
    matching = [line for line in lines if name in line]
    assert len(matching) == 1, (name, lines)
    return matching[0]


# -- file names and folders --------------------------------------------------------------------

def test_a_250_character_file_name_in_a_folder_does_not_stop_the_others(root, incoming):
    (incoming / LONG_NAME).write_text(DANISH, encoding="utf-8")
    (incoming / "zz-norsk.txt").write_text(NORWEGIAN, encoding="utf-8")  # sorted after it
    run = run_kb(root, "add", str(incoming), "--kind", "guidance")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    assert not_added(run) == []
    ids = added_ids(run)
    assert ids == ["referat", "zz-norsk"]
    assert run.stderr_lines()[-1].startswith("added 2;")
    sidecar = (root / "corpus" / "documents" / f"{ids[0]}.meta.yaml").read_text(encoding="utf-8")
    assert f"source_file: {LONG_NAME}" in sidecar


def test_folders_skip_what_the_corpus_skips_and_an_empty_folder_says_so(root, incoming):
    """README, `_` templates and hidden files are not documents for `kb add` either."""
    (incoming / "README.md").write_text("# Om denne mappe\n\n" + DANISH, encoding="utf-8")
    (incoming / "_TEMPLATE.md").write_text((Path(__file__).parents[1] / "corpus/cases/_TEMPLATE.md").read_text(encoding="utf-8"))
    (incoming / "_drafts").mkdir()
    (incoming / "_drafts" / "udkast.txt").write_text(DANISH.replace("Kommunen", "Byen"), encoding="utf-8")
    (incoming / ".hidden.txt").write_text(DANISH.replace("Kommunen", "Regionen"), encoding="utf-8")
    (incoming / "note.txt").write_text(DANISH, encoding="utf-8")
    run = run_kb(root, "add", str(incoming), "--kind", "guidance")
    assert run.exit_code == 0, run.output
    assert added_ids(run) == ["note"]

    empty = incoming / "tom"
    (empty / ".git").mkdir(parents=True)
    (empty / ".git" / "HEAD.txt").write_text("ref", encoding="utf-8")
    (empty / "README.txt").write_text(DANISH, encoding="utf-8")
    run = run_kb(root, "add", str(empty), "--kind", "guidance")
    run.assert_no_traceback()
    assert run.exit_code == 1 and run.stdout == ""
    (line,) = not_added(run)
    assert str(empty) in line and "no files to add" in line and ".md" in line


def test_metadata_of_the_wrong_shape_is_one_line(root, incoming):
    """An id that is a list or a mapping is named like any other wrong field."""
    for name, value in (("liste.md", "[a, b]"), ("mapping.md", "{a: b}")):
        (incoming / name).write_text(f"---\nid: {value}\ntitle: T\nlanguage: da\nkind: other\n---\n{DANISH}\n", encoding="utf-8")
    run = run_kb(root, "add", str(incoming / "liste.md"), str(incoming / "mapping.md"))
    run.assert_no_traceback()
    lines = not_added(run)
    assert len(lines) == 2 and all("md: field 'id': Input should be a valid string" in line for line in lines), lines


# -- encodings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-8", b"\xef\xbb\xbf")])
def test_text_with_a_byte_order_mark_is_read(root, incoming, encoding, bom):
    """Notepad and Word save "Unicode" text as UTF-16 with a BOM: it is text, not binary."""
    source = incoming / "notat.txt"
    source.write_bytes(bom + ("# Samarbejde\r\n\r\n" + DANISH.replace(". ", ".\r\n")).encode(encoding))
    run = run_kb(root, "add", str(source), "--kind", "guidance")
    assert run.exit_code == 0, run.output
    assert run.stdout.startswith("samarbejde  da (detected)  corpus/documents/samarbejde.txt")
    checked = run_kb(root, "validate")
    assert checked.exit_code == 0, checked.output
    shown = run_kb(root, "add", str(source), "--kind", "guidance")  # the copy in the corpus reads the same
    (line,) = not_added(shown)
    assert "same content as document 'samarbejde'" in line


def test_a_broken_utf16_file_is_one_line(root, incoming):
    source = incoming / "halv.txt"
    source.write_bytes(b"\xff\xfe" + DANISH.encode("utf-16-le")[:-1])  # an odd number of bytes
    run = run_kb(root, "add", str(source), "--kind", "guidance")
    (line,) = not_added(run)
    assert "halv.txt: not UTF-16" in line and "re-save it as UTF-8" in line


# -- pipes, devices and huge files ----------------------------------------------------------------

def _odd_files(folder: Path) -> dict[str, str]:
    """Files no read may hang or exhaust memory on, and what the line about each says."""
    os.mkfifo(folder / "pipe.txt")
    os.mkfifo(folder / "pipe.pdf")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "gone.md").symlink_to(folder / "nowhere.md")
    (folder / "loop.md").symlink_to(folder / "loop.md")
    with open(folder / "huge.txt", "wb") as handle:
        handle.truncate(51 * 1024 * 1024)  # sparse: costs no disk
    return {"pipe.txt": "is a pipe", "pipe.pdf": "is a pipe", "zero.txt": "is a device",
            "gone.md": "a broken link", "loop.md": "cannot read it (Too many levels of symbolic links)",
            "huge.txt": "larger than 50 MB"}


def test_pipes_devices_and_huge_text_are_refused_by_add(root, incoming):
    expected = _odd_files(incoming)
    (incoming / "good.txt").write_text(DANISH, encoding="utf-8")
    run = run_kb(root, "add", *(str(incoming / name) for name in [*expected, "good.txt"]), "--kind", "guidance")
    run.assert_no_traceback()
    assert run.exit_code == 1
    lines = not_added(run)
    assert len(lines) == len(expected), lines
    for name, why in expected.items():
        assert why in one_line_for(lines, name), (name, lines)
    assert added_ids(run) == ["good"]
    run = run_kb(root, "add", str(incoming), "--kind", "guidance")  # the same, found by walking the folder
    assert len(not_added(run)) == len(expected) + 1  # good.txt is a duplicate now


def test_pipes_devices_long_names_and_huge_text_in_the_corpus(make_kb):
    """`kb index` and `kb validate` name each odd file on one line and index the rest."""
    root = make_kb(FIXTURE_DOCS)
    corpus = root / "corpus"
    expected = _odd_files(corpus)
    (corpus / LONG_NAME).write_text(DANISH, encoding="utf-8")
    expected[LONG_NAME] = "no metadata, and its name is too long for a sidecar beside it"

    run = run_kb(root, "index")
    run.assert_no_traceback()
    assert run.exit_code == 1
    for line in run.stderr_lines():
        assert line.startswith(INDEX_LINES), f"unexpected stderr line {line!r}"
    skipped = [line for line in run.stderr_lines() if line.startswith("kb: skipped ")]
    assert len(skipped) == len(expected), skipped
    for name, why in expected.items():
        assert why in one_line_for(skipped, f"corpus/{name}"), (name, skipped)
    assert index_summary(run)["documents"] == 3

    checked = run_kb(root, "validate")
    assert checked.exit_code == 1
    lines = checked.stdout.splitlines()
    for name, why in expected.items():
        assert why in one_line_for(lines, f"corpus/{name}")
    assert lines[-1] == f"{3 + len(expected)} files checked, {len(expected)} problems"
    status = run_kb(root, "status")
    assert status.exit_code == 0 and sum(line.startswith("problem") for line in status.stdout.splitlines()) == len(expected)


# -- converters ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["inf", "nan", "1e308", "-5", "0", "abc", "86401"])
def test_a_bad_extract_timeout_is_one_line_naming_the_range(root, incoming, value):
    page = incoming / "side.html"
    page.write_text(f"<html><body><article><p>{DANISH}</p></article></body></html>", encoding="utf-8")
    env = {"KB_EXTRACT_TIMEOUT": value}
    error = assert_one_line_error(run_kb(root, "add", str(page), "--kind", "guidance", env=env), usage=True,
                                  mentions=("KB_EXTRACT_TIMEOUT", "above 0 and at most 86400"))
    assert repr(value) in error
    (root / "corpus" / "documents" / "side.html").write_bytes(page.read_bytes())
    (root / "corpus" / "documents" / "side.meta.yaml").write_text("id: side\ntitle: S\nlanguage: da\nkind: other\n", encoding="utf-8")
    assert_one_line_error(run_kb(root, "index", env=env), usage=True, mentions=("KB_EXTRACT_TIMEOUT",))


def test_a_page_of_navigation_only_is_refused(root, incoming):
    menu = incoming / "forside.html"
    menu.write_text(
        '<html><head><title>Odense Kommune</title></head><body><header><nav><ul>'
        '<li><a href="/">Forside</a></li><li><a href="/om">Om os</a></li><li><a href="/kontakt">Kontakt</a></li>'
        '</ul></nav></header><footer>Odense Kommune · Flakhaven 2</footer></body></html>', encoding="utf-8")
    article = incoming / "artikel.html"
    article.write_text(
        f'<html><body><nav><a href="/">Forside</a> <a href="/om">Om os</a></nav>'
        f'<main><h1>Samskabelse</h1><p>{DANISH}</p></main></body></html>', encoding="utf-8")
    run = run_kb(root, "add", str(menu), str(article), "--kind", "article")
    run.assert_no_traceback()
    (line,) = not_added(run)
    assert "forside.html: no main text found in this HTML page" in line and "fewer than 20" in line
    assert added_ids(run) == ["samskabelse"]


# -- what `kb validate` reports ------------------------------------------------------------------------

def test_validate_reports_control_characters_by_file_and_line(root):
    body = "# Tillid\n\nBorgerne er skeptiske.\nDet er \x1b[2J\x1b[31mrødt nu.\n"
    (root / "corpus" / "documents" / "escape.md").write_text(md_doc("escape-doc", body), encoding="utf-8")
    run = run_kb(root, "validate")
    assert run.exit_code == 1
    (line,) = [line for line in run.stdout.splitlines() if "escape.md" in line]
    assert line.startswith("corpus/documents/escape.md:10: control character U+001B and 1 more"), line
    assert "\x1b" not in run.stdout
    assert run.stdout.splitlines()[-1] == "2 files checked, 1 problems"


def test_one_duplicate_rule_for_add_validate_and_index(make_kb, incoming):
    """Two files whose text differs only in line breaks are one document to every command."""
    body = "# Borgermøder\n\n" + DANISH + "\n"
    rewrapped = body.replace(". ", ".\n", 1)
    root = make_kb(FIXTURE_DOCS | {"a.md": md_doc("moeder-a", body), "b.md": md_doc("moeder-b", rewrapped)})
    run = run_kb(root, "index")
    assert run.exit_code == 1, run.output
    (line,) = [line for line in run.stderr_lines() if line.startswith("kb: skipped ")]
    assert "corpus/b.md: same content as corpus/a.md" in line
    assert index_summary(run)["documents"] == 4
    checked = run_kb(root, "validate")
    (line,) = [line for line in checked.stdout.splitlines() if "same content" in line]
    assert line.startswith("corpus/b.md: same content as corpus/a.md")
    source = incoming / "c.md"
    source.write_text(body.replace(". ", ".\n\n"), encoding="utf-8")
    (line,) = not_added(run_kb(root, "add", str(source), "--kind", "guidance", "--lang", "da"))
    assert "same content as document 'moeder-a'" in line
