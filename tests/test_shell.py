"""`kb shell` driven through a real pseudo-terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
from click.testing import CliRunner

from conftest import select_encoder
from search_cli.app import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shell_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shellkb")
    docs = {
        "tillid": ("da", "Tillid i Nordby", "Borgerne var skeptiske over for kommunen, så medarbejderne byggede tillid op gennem faste møder."),
        "hagelag": ("nb", "Hagelag i borettslaget", "Beboerne startet et hagelag med støtte fra kommunen, og naboer møtes i parsellhagen."),
    }
    for doc_id, (lang, title, body) in docs.items():
        path = root / "corpus" / f"{doc_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\nid: {doc_id}\ntitle: {title}\nlanguage: {lang}\nkind: report\n---\n# {title}\n\n{body}\n", encoding="utf-8")
    select_encoder(root)
    result = CliRunner().invoke(cli, ["--kb", str(root), "index"])
    assert result.exit_code == 0, result.output
    return root


def spawn(root: Path, history: Path):
    env = {**os.environ, "KB_HISTORY": str(history), "NO_COLOR": "1", "TERM": "dumb"}
    child = pexpect.spawn(sys.executable, ["-m", "search_cli.app", "--kb", str(root), "shell", "-k", "1"],
                          cwd=str(REPO), env=env, encoding="utf-8", timeout=60, dimensions=(40, 200))
    child.expect("kb> ")
    return child


def quit_shell(child) -> None:
    """:quit ends the shell with status 0 and no traceback."""
    child.sendline(":quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in (child.before or "")


def test_shell_answers_several_questions_and_keeps_history(shell_kb: Path, tmp_path: Path) -> None:
    history = tmp_path / "history"
    child = spawn(shell_kb, history)
    child.sendline("hvordan bygger vi tillit hos skeptiske innbyggere")
    child.expect(r"corpus/tillid\.md:\d+")
    child.expect("kb> ")
    child.sendline("parsellhage naboer")
    child.expect(r"corpus/hagelag\.md:\d+")
    child.expect("kb> ")
    child.sendline(":lang xx")
    child.expect("kb: error: :lang takes da, nb, en or all")
    child.expect("kb> ")
    child.sendline(":lang da")
    child.expect("lang = da")
    child.expect("kb> ")
    # arrow-up recalls earlier lines (readline): three up is the second question, now in Danish only
    child.send("\x1b[A\x1b[A\x1b[A")
    child.sendline("")
    child.expect(r"corpus/tillid\.md:\d+")
    child.expect("kb> ")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    saved = history.read_text(encoding="utf-8")
    assert "hvordan bygger vi tillit hos skeptiske innbyggere" in saved and "parsellhage naboer" in saved


def test_shell_reports_bad_input_and_carries_on(shell_kb: Path, tmp_path: Path) -> None:
    child = spawn(shell_kb, tmp_path / "history")
    child.sendline(":show no-such-passage")
    child.expect("kb: error: no passage 'no-such-passage'")
    child.expect("kb> ")
    child.sendline(":k 0")
    child.expect("kb: error: :k takes a number from 1 to 200")
    child.expect("kb> ")
    child.sendline(":show tillid#1")
    child.expect("Tillid i Nordby")
    child.expect("kb> ")
    quit_shell(child)
