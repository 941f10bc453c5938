"""`kb shell`: ask question after question with the model and index kept loaded."""

from __future__ import annotations

import os
from pathlib import Path

import click

from kb.errors import KBError

HELP = """Type a question and press Enter. Commands:
  :k N            number of passages (now {k})
  :lang da|nb|en|all   language filter (now {lang})
  :mode hybrid|dense|lexical   retrieval mode (now {mode})
  :show CHUNK_ID  a passage with its neighbours
  :help           this text
  :quit           leave (or Ctrl-D)"""


class ShellSettings:
    def __init__(self, k: int, lang: str, mode: str):
        self.k, self.lang, self.mode = k, lang, mode

    def apply(self, command: str, argument: str) -> str:
        """Change a setting; returns a confirmation, or raises KBError-style UsageError."""
        from kb.errors import UsageError

        if command == "k":
            if not argument.isdigit() or not 1 <= int(argument) <= 200:
                raise UsageError(":k takes a number from 1 to 200")
            self.k = int(argument)
        elif command == "lang":
            if argument not in ("da", "nb", "en", "all"):
                raise UsageError(":lang takes da, nb, en or all")
            self.lang = argument
        elif command == "mode":
            if argument not in ("hybrid", "dense", "lexical"):
                raise UsageError(":mode takes hybrid, dense or lexical")
            self.mode = argument
        return f"{command} = {argument}"


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

    settings = ShellSettings(k, lang, mode)
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
                        click.echo(HELP.format(k=settings.k, lang=settings.lang, mode=settings.mode))
                    elif command == "show":
                        render.print_passage(*kb.passage(argument, 1))
                    else:
                        click.echo(settings.apply(command, argument))
                    continue
                result = kb.search(line, k=settings.k, lang=settings.lang, mode=settings.mode)
                render.print_hits(result, kb.highlighter(line), filters="" if settings.lang == "all" else f":lang {settings.lang}")
            except KBError as exc:
                click.echo(f"kb: error: {exc}", err=True)
    finally:
        save_history()
