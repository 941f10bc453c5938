"""`kb shell`: ask question after question with the model and index kept loaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from kb.errors import KBError
from kb.vocabulary import LANGUAGE_FILTERS, MAX_TOP_K, MODES

HELP = """Type a question and press Enter; Ctrl-C stops a question that takes long. Commands:
  :k N            number of passages, 1 to {max_k} (now {k})
  :lang {langs}   language filter (now {lang})
  :mode {modes}   retrieval mode (now {mode})
  :show CHUNK_ID  a passage with its neighbours
  :help           this text
  :quit           leave (or Ctrl-D)"""
COMMANDS = (":k", ":lang", ":mode", ":show", ":help", ":quit")


class ShellSettings:
    def __init__(self, k: int, lang: str, mode: str):
        self.k, self.lang, self.mode = k, lang, mode

    def help(self) -> str:
        return HELP.format(k=self.k, lang=self.lang, mode=self.mode, max_k=MAX_TOP_K,
                           langs="|".join(LANGUAGE_FILTERS), modes="|".join(MODES))

    def apply(self, command: str, argument: str) -> str:
        """Change a setting; returns a confirmation, or raises UsageError."""
        from kb.errors import UsageError

        if command == "k":
            if not argument.isdigit() or not 1 <= int(argument) <= MAX_TOP_K:
                raise UsageError(f":k takes a number from 1 to {MAX_TOP_K}")
            self.k = int(argument)
        elif command == "lang":
            if argument not in LANGUAGE_FILTERS:
                raise UsageError(f":lang takes {_one_of(LANGUAGE_FILTERS)}")
            self.lang = argument
        elif command == "mode":
            if argument not in MODES:
                raise UsageError(f":mode takes {_one_of(MODES)}")
            self.mode = argument
        else:
            raise UsageError(f"no command :{command}; the commands are {', '.join(COMMANDS)}")
        return f"{command} = {argument}"


def _one_of(choices: tuple[str, ...]) -> str:
    return f"{', '.join(choices[:-1])} or {choices[-1]}"


def _setup_history(path: Path):
    try:
        import readline
    except ImportError:  # no readline on this platform: plain input still works
        return lambda: None
    try:
        readline.read_history_file(path)
    except (FileNotFoundError, OSError):
        pass
    readline.set_history_length(1000)

    def save() -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
        except OSError:
            pass

    return save


def run_shell(kb, k: int, lang: str, mode: str) -> None:
    from search_cli import render
    from search_cli.text import argument_text

    settings = ShellSettings(k, lang, mode)
    if hasattr(sys.stdin, "reconfigure"):  # a Latin-1 terminal's bytes are read (argument_text), not a crash
        sys.stdin.reconfigure(errors="surrogateescape")
    save_history = _setup_history(Path(os.environ.get("KB_HISTORY", kb.paths.index / "shell_history")))
    click.echo(f"kb shell — {kb.paths.root} ({kb.manifest.chunks} passages). :help for commands, Ctrl-D to leave.")
    try:
        while True:
            try:
                line = input("kb> ").strip()
            except EOFError:
                click.echo()
                break
            except KeyboardInterrupt:
                click.echo()
                continue
            if not line:
                continue
            try:
                if line.startswith(":"):
                    command, _, argument = line[1:].partition(" ")
                    command, argument = command.strip(), argument.strip()
                    if command in ("q", "quit", "exit"):
                        break
                    if command in ("h", "help", "?"):
                        click.echo(settings.help())
                    elif command == "show":
                        render.print_passage(kb.passage_answer(argument, 1))
                    else:
                        click.echo(settings.apply(command, argument))
                    continue
                line = argument_text(line)
                answer = kb.search_answer(line, k=settings.k, lang=settings.lang, mode=settings.mode)
                render.print_hits(answer, filters="" if settings.lang == "all" else f":lang {settings.lang}")
                note = render.weak_note(answer)
                if note:
                    click.echo(note, err=True)
            except KBError as exc:
                click.echo(f"kb: error: {exc}", err=True)
            except KeyboardInterrupt:  # the question is dropped; the shell and its settings stay
                click.echo("\nkb: stopped; ask again or change the settings", err=True)
    finally:
        save_history()
