"""Odd input and odd surroundings through the real CLI: full disks, broken terminals, bytes that
are not UTF-8, control characters in documents, options in unusual places. Each ends in one line
and a fitting exit code, or works."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from conftest import REPO, index_kb, md_doc, run_kb, run_kb_process
from test_cli_errors import assert_one_line_error

QUERY = "hvordan opbygger vi tillid hos skeptiske borgere"
PLAN = """\
title: Tillid
audience: medarbejdere
themes:
  - title: Tillid
    questions: [hvordan bygger vi tillid]
"""


def kb_process(root: Path, *args: str | bytes, stdout=subprocess.PIPE, env: dict | None = None):
    """`kb` as a real process whose arguments may be raw bytes, as a shell passes them."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("KB_HOME", None)
    return subprocess.run([sys.executable, "-m", "search_cli.app", "--kb", str(root), *args], stdout=stdout,
                          stderr=subprocess.PIPE, env=full_env, timeout=120, cwd=str(root))


def one_error_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8")
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kb: error: "), text
    return lines[0]


# -- a full disk ------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [("search", "tillid", "-k", "200"), ("search", "tillid", "--json"),
                                  ("search", "tillid", "--format", "md"), ("handout", "plan.yaml"),
                                  ("show", "tillid-i-praksis#1")])
def test_output_to_a_full_device_is_one_line(fixture_kb, args):
    (fixture_kb / "plan.yaml").write_text(PLAN, encoding="utf-8")
    with open("/dev/full", "w") as full:
        proc = kb_process(fixture_kb, *args, stdout=full)
    assert proc.returncode == 1
    error = one_error_line(proc.stderr)
    assert "cannot write the output" in error and "No space left on device" in error


# -- text that is not UTF-8 -----------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    (b"\xed\xa0\x80 tillid", "\ufffd tillid"),         # what a shell makes of $'\ud800 tillid'
    (b"s\xf8g tillid", "s\u00f8g tillid"),             # søg, typed on a Latin-1 terminal
    (b"\xff\xfe tillid \x80", "\u00ff\u00fe tillid \ufffd"),
])
def test_query_bytes_that_are_not_utf8_give_valid_json(fixture_kb, raw, expected):
    proc = kb_process(fixture_kb, "search", raw, "--json", "-k", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    answer = json.loads(proc.stdout.decode("utf-8"))  # strict UTF-8, or this raises
    assert answer["query"] == expected
    assert answer["results"][0]["doc_id"] == "tillid-i-praksis"


@pytest.mark.parametrize("fmt", ["json", "md", "text"])
def test_a_lone_surrogate_in_the_query_is_replaced(fixture_kb, fmt):
    run = run_kb(fixture_kb, "search", "\ud800 tillid", "--format", fmt, "-k", "1")
    run.assert_no_traceback()
    assert run.exit_code == 0, run.output
    out = run.result.stdout_bytes.decode("utf-8")  # strict
    if fmt == "json":
        assert json.loads(out)["query"] == "\ufffd tillid"


# -- --doc ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("docs", [["no-such-doc"], ["no-such-doc", "tillid-i-praksis"], ["tillid-i-praksis", "nope-1", "nope-2"]])
def test_an_unknown_doc_id_is_named(fixture_kb, docs):
    args = [arg for doc in docs for arg in ("--doc", doc)]
    unknown = tuple(f"'{doc}'" for doc in docs if doc != "tillid-i-praksis")
    for fmt in ("text", "json"):
        error = assert_one_line_error(run_kb(fixture_kb, "search", QUERY, *args, "--format", fmt), usage=True,
                                      mentions=unknown)
        assert "tillid-i-praksis" in error  # the ids the index does hold


def test_a_known_doc_id_filters(fixture_kb):
    run = run_kb(fixture_kb, "search", QUERY, "--doc", "measuring-impact", "--doc", "frivillige-partnere", "--json")
    assert run.exit_code == 0, run.output
    assert {hit["doc_id"] for hit in run.json()["results"]} == {"measuring-impact", "frivillige-partnere"}


def test_the_library_names_an_unknown_doc_id_too(fixture_kb):
    from kb import KnowledgeBase
    from kb.errors import UsageError

    with pytest.raises(UsageError, match="'nope'"):
        KnowledgeBase.open(fixture_kb).search(QUERY, doc_ids=["tillid-i-praksis", "nope"])


# -- control characters in documents ----------------------------------------------------------------

HOSTILE = md_doc("fjendtlig", "# Tillid\x1b[2J\n\nTillid\x1b[2J\x1b[31m mellem borgere og kommune kræver dialog\x07 "
                 "og\r tålmodighed, også når samarbejdet om nye løsninger bliver svært undervejs for alle parter.\n",
                 title='"Rød\\e[31m titel"')  # YAML's escape for ESC: a raw one is not allowed there


@pytest.fixture(scope="module")
def hostile_kb(tmp_path_factory):
    from conftest import select_encoder, write_corpus

    root = select_encoder(write_corpus(tmp_path_factory.mktemp("hostile"), {"fjendtlig.md": HOSTILE}))
    assert index_kb(root).exit_code == 0
    return root


def spawn_kb(root: Path, *args: str, term: str = "xterm", no_color: bool = False) -> str:
    """Run `kb` on a real terminal and return all it printed there."""
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "KB_HOME")}
    env["TERM"] = term
    if no_color:
        env["NO_COLOR"] = "1"
    child = pexpect.spawn(sys.executable, ["-m", "search_cli.app", "--kb", str(root), *args], cwd=str(REPO),
                          env=env, encoding="utf-8", timeout=60, dimensions=(50, 200))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return child.before


@pytest.mark.parametrize("args", [("search", "tillid dialog", "-k", "1"), ("search", "tillid dialog", "--format", "md"),
                                  ("show", "fjendtlig#1")])
def test_control_characters_of_a_document_never_reach_the_terminal(hostile_kb, args):
    shown = spawn_kb(hostile_kb, *args)
    assert "\x1b[2J" not in shown and "\x1b[31m" not in shown and "\x07" not in shown  # kb itself uses no red
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)  # kb's own colours and bold
    assert "Tillid\u241b[2J\u241b[31m mellem" in plain  # visible instead: ␛[2J
    assert "Rød\u241b[31m titel" in plain and "og\u240d tålmodighed" in plain


def test_json_keeps_the_document_text_as_it_is(hostile_kb):
    run = run_kb(hostile_kb, "search", "tillid dialog", "--json", "-k", "1")
    assert run.exit_code == 0 and "\\u001b[2J" in run.stdout  # escaped by JSON, exact for programs


def test_a_handout_of_a_hostile_document_is_harmless(hostile_kb, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("hvordan bygger vi tillid", "tillid dialog"), encoding="utf-8")
    for fmt in ("md", "html"):
        shown = spawn_kb(hostile_kb, "handout", str(plan), "--format", fmt)
        assert "\x1b" not in shown and "\u241b[2J" in shown


# -- colour -----------------------------------------------------------------------------------------

def test_colour_only_on_a_terminal_that_shows_it(fixture_kb):
    assert "\x1b[" in spawn_kb(fixture_kb, "search", QUERY, "-k", "1", term="xterm")
    assert "\x1b[" not in spawn_kb(fixture_kb, "search", QUERY, "-k", "1", term="dumb")
    assert "\x1b[" not in spawn_kb(fixture_kb, "search", QUERY, "-k", "1", term="xterm", no_color=True)


# -- handouts never overwrite what they are made from -----------------------------------------------

def _plan_and_ways_to_name_it(root: Path) -> tuple[Path, list[str]]:
    plan = root / "plans" / "course.yaml"
    plan.parent.mkdir()
    plan.write_text(PLAN, encoding="utf-8")
    (root / "plans" / "link.yaml").symlink_to(plan)
    os.link(plan, root / "plans" / "hard.yaml")
    return plan, [str(plan), str(root / "plans" / ".." / "plans" / "course.yaml"), str(root / "plans" / "link.yaml"),
                  str(root / "plans" / "hard.yaml")]


def test_a_handout_never_overwrites_its_plan(fixture_kb):
    plan, names = _plan_and_ways_to_name_it(fixture_kb)
    for output in names:
        error = assert_one_line_error(run_kb(fixture_kb, "handout", str(plan), "-o", output), usage=True,
                                      mentions=(output, "plan"))
        assert plan.read_text(encoding="utf-8") == PLAN, error


def test_a_handout_never_writes_into_the_corpus_or_the_index(fixture_kb, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    before = (fixture_kb / "corpus" / "tillid.md").read_bytes()
    for output, where in ((fixture_kb / "corpus" / "tillid.md", "corpus"), (fixture_kb / "corpus" / "new.md", "corpus"),
                          (fixture_kb / ".kb" / "handout.md", "index")):
        assert_one_line_error(run_kb(fixture_kb, "handout", str(plan), "-o", str(output)), usage=True, mentions=(where,))
    assert (fixture_kb / "corpus" / "tillid.md").read_bytes() == before
    assert not (fixture_kb / "corpus" / "new.md").exists()
    run = run_kb(fixture_kb, "handout", str(plan), "-o", str(tmp_path / "handout.md"))
    assert run.exit_code == 0, run.output
    assert "Tillid" in (tmp_path / "handout.md").read_text(encoding="utf-8")


# -- --kb anywhere, usage errors in one line ------------------------------------------------------------

def test_every_command_takes_kb_after_its_name(fixture_kb, monkeypatch, tmp_path):
    import click

    from search_cli.app import cli

    with click.Context(cli) as ctx:
        commands = [cli.get_command(ctx, name) for name in cli.list_commands(ctx)]
    assert len(commands) >= 13 and all(commands)  # the lazily loaded ones too
    assert all("--kb" in (opt for p in command.params for opt in p.opts) for command in commands)
    monkeypatch.chdir(tmp_path)  # no knowledge base here: only --kb can say where it is
    kb = ("--kb", str(fixture_kb))
    run = run_kb(None, "search", QUERY, "-k", "1", "--json", *kb)
    assert run.exit_code == 0 and run.json()["results"][0]["doc_id"] == "tillid-i-praksis", run.output
    for args in (["status"], ["show", "tillid-i-praksis#1"], ["validate"], ["index"]):
        run = run_kb(None, *args, *kb)
        assert run.exit_code == 0, (args, run.output)
    missing = tmp_path / "nowhere"
    assert_one_line_error(run_kb(None, "status", "--kb", str(missing)), usage=True, mentions=(str(missing),))


@pytest.mark.parametrize("args, line", [
    (["search", QUERY, "--top-k", "0"], "kb: error: --top-k: 0 is not in the range 1<=x<=200; see kb search --help"),
    (["search", QUERY, "--lang", "de"], "kb: error: --lang: 'de' is not one of 'da', 'nb', 'en', 'all'; see kb search --help"),
    (["search"], "kb: error: missing argument 'QUERY...'; see kb search --help"),
    (["serch", QUERY], "kb: error: no such command 'serch' (did you mean one of: 'search', 'serve'?); see kb --help"),
    (["--bogus", "status"], "kb: error: no such option '--bogus'; see kb --help"),
    (["search", QUERY, "--tpo-k", "3"], "kb: error: no such option '--tpo-k' (did you mean '--top-k'?); see kb search --help"),
    (["show", "x", "--context", "-1"], "kb: error: --context: -1 is not in the range 0<=x<=10; see kb show --help"),
    (["handout", "plan.yaml", "--format", "pdf"], "kb: error: --format: 'pdf' is not one of 'md', 'html'; see kb handout --help"),
])
def test_click_usage_errors_are_one_line_with_a_pointer_to_help(fixture_kb, args, line):
    proc = run_kb_process(fixture_kb, *args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == line + "\n"


def test_help_and_version_still_work(fixture_kb):
    assert "--kb DIR" in run_kb(fixture_kb, "search", "--help").stdout
    assert run_kb(fixture_kb, "--version").stdout.startswith("kb, version")


# -- kb eval --beir and kb.toml -------------------------------------------------------------------------

def test_eval_beir_reports_a_broken_kb_toml(fixture_kb, tmp_path):
    (fixture_kb / "kb.toml").write_text('[embedder]\nbackend = "word2vec"\n', encoding="utf-8")
    assert_one_line_error(run_kb(fixture_kb, "eval", "--beir", str(tmp_path)), usage=True, mentions=("kb.toml", "backend"))


def test_eval_beir_needs_no_knowledge_base(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing here or above is a knowledge base: the defaults serve
    assert_one_line_error(run_kb(None, "eval", "--beir", str(tmp_path)), usage=True, mentions=("qrels",))


# -- kb shell -------------------------------------------------------------------------------------------

from test_shell import quit_shell, shell_kb, spawn  # noqa: E402,F401  (a module fixture: the small shell corpus)


def test_shell_names_the_commands_for_an_unknown_one(shell_kb, tmp_path):
    child = spawn(shell_kb, tmp_path / "history")
    child.sendline(":foo bar")
    child.expect_exact("kb: error: no command :foo; the commands are :k, :lang, :mode, :show, :help, :quit")
    child.expect("kb> ")
    child.sendline(":help")
    child.expect_exact("(now all)")  # nothing was set
    child.expect("kb> ")
    quit_shell(child)


def test_ctrl_c_stops_a_question_and_keeps_the_shell_and_its_settings(shell_kb, tmp_path):
    # The first question stalls inside the search (a fault point that says so), and Ctrl-C lands there.
    env = {**os.environ, "KB_HISTORY": str(tmp_path / "history"), "NO_COLOR": "1", "TERM": "dumb",
           "KB_FAULT_POINT": "stall:search"}
    child = pexpect.spawn(sys.executable, ["-m", "search_cli.app", "--kb", str(shell_kb), "shell", "-k", "1"],
                          cwd=str(REPO), env=env, encoding="utf-8", timeout=60, dimensions=(40, 200))
    child.expect("kb> ")
    child.sendline(":lang nb")
    child.expect_exact("lang = nb")
    child.expect("kb> ")
    child.sendline("hvordan bygger vi tillit")
    child.expect_exact("kb: stalled at search")  # inside the search, for sure
    child.sendintr()
    child.expect_exact("kb: stopped", timeout=20)
    child.expect("kb> ")
    child.sendline(":help")
    child.expect_exact("(now nb)")  # the setting made before Ctrl-C is still there
    child.expect("kb> ")
    child.sendline("parsellhage naboer")
    child.expect(r"corpus/hagelag\.md:\d+")
    child.expect("kb> ")
    quit_shell(child)
