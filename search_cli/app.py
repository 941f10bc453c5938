"""The `kb` command: parse arguments, call the library, render. No retrieval logic here."""

from __future__ import annotations

import errno
import os
import sys

import click

from kb.errors import KBError
from kb.vocabulary import KINDS, LANGUAGE_FILTERS, LANGUAGES, MAX_TOP_K, MODES
from search_cli.context import is_remote, open_kb, open_reader, progress_printer, run_index, server_option, with_index


class OneLineError(click.ClickException):
    """A usage error as the one line every kb error is, with where to read more."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"kb: error: {self.message}", err=True)


def usage_line(exc: click.ClickException) -> str:
    """click's several-line usage message as "--top-k: 0 is not in the range 1<=x<=200; see kb search --help"."""
    named = isinstance(exc, click.BadParameter) and not isinstance(exc, click.MissingParameter) and exc.param is not None
    first, *rest = " ".join((exc.message if named else exc.format_message()).split()).rstrip(".").split(". ")
    message = first[:1].lower() + first[1:]
    if rest:  # click's "Did you mean …?" becomes a parenthesis of the one line
        hint = " ".join(rest).removeprefix("(").removesuffix(")")
        message += f" ({hint[:1].lower()}{hint[1:]})"
    if named:
        param = exc.param
        name = max(param.opts, key=len) if isinstance(param, click.Option) else param.human_readable_name
        message = f"{name}: {message}"
    command = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "kb"
    return f"{message}; see {command} --help"


def output_error(exc: OSError) -> str:
    if exc.filename is None:  # a write to stdout: a full disk, a device that takes nothing
        return f"cannot write the output ({exc.strerror or exc}); write it somewhere with room"
    return f"{exc.filename}: {exc.strerror or exc}"


def _remember_kb(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["kb_dir"] = value


LAZY_COMMANDS = {  # name: "module:command"
    "add": "search_cli.maintain_cmd:add",
    "remove": "search_cli.maintain_cmd:remove",
    "validate": "search_cli.maintain_cmd:validate",
    "handout": "search_cli.handout_cmd:handout",
    "serve": "search_cli.serve_cmd:serve",
    "mcp": "search_cli.serve_cmd:mcp_stdio",
    "store": "search_cli.store_cmd:store",
}

KB_HELP = "Knowledge base folder (default: $KB_HOME, else the nearest folder with corpus/)."


class KBGroup(click.Group):
    """Turns library and usage errors into one line on stderr and a non-zero exit, never a
    traceback, and lets every command take --kb after its name too."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise OneLineError(usage_line(exc), exc.exit_code) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OneLineError:
            raise
        except click.UsageError as exc:
            raise OneLineError(usage_line(exc), exc.exit_code) from None
        except KBError as exc:
            click.echo(f"kb: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("kb: interrupted", err=True)
            ctx.exit(130)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # the reader stopped early (`kb search … | head`): click ends quietly
            _say(f"kb: error: {output_error(exc)}\n")
            if exc.filename is None:  # what is left of the output has nowhere to go either
                sys.stdout = open(os.devnull, "w")
            ctx.exit(1)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.append(click.Option(["--kb"], metavar="DIR", expose_value=False, callback=_remember_kb, help=KB_HELP))
        super().add_command(cmd, name)

    # Commands kept in modules of their own load when named (click's lazy subcommands), so
    # `kb search`, the command a caseworker runs most, does not pay for the rest.
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in LAZY_COMMANDS:
            import importlib

            module, attribute = LAZY_COMMANDS[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and self.get_command(ctx, args[0]) is None:  # a mistyped name: suggest from every command
            for name in LAZY_COMMANDS:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


@click.group(cls=KBGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kb", "kb_dir", metavar="DIR", help=KB_HELP)
@click.version_option(package_name="kb-samskabelse", prog_name="kb")
@click.pass_context
def cli(ctx: click.Context, kb_dir: str | None) -> None:
    """Search Danish and Norwegian material on co-creation (samskabelse / samskaping) with citations."""
    ctx.ensure_object(dict)["kb_dir"] = kb_dir


@cli.command()
@click.option("--rebuild", is_flag=True, help="Re-index every document from scratch (the current index serves until it is done; cached vectors are reused).")
@click.pass_context
def index(ctx: click.Context, rebuild: bool) -> None:
    """Build or update the index (only new and changed documents are embedded)."""
    report = run_index(ctx, rebuild)
    if report.failed:
        ctx.exit(1)


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(1, MAX_TOP_K), help="Number of passages.")
@click.option("--lang", type=click.Choice(LANGUAGE_FILTERS), default="all", show_default=True, help="Only passages in this language.")
@click.option("--kind", type=click.Choice(KINDS), help="Only documents of this kind.")
@click.option("--doc", "doc_ids", multiple=True, metavar="DOC_ID", help="Only these documents (repeatable).")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True, help="Retrieval: fused, vectors only, or BM25 only.")
@click.option("--format", "fmt", type=click.Choice(("text", "json", "md")), default="text", show_default=True, help="Output format.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@server_option
@click.pass_context
def search(ctx, query, top_k, lang, kind, doc_ids, mode, fmt, as_json) -> None:
    """Find the passages that answer QUERY (English, Danish or Norwegian)."""
    from search_cli import render
    from search_cli.text import argument_text

    kb = open_reader(ctx)
    text = argument_text(" ".join(query))
    answer = with_index(ctx, kb, lambda: kb.search_answer(text, k=top_k, lang=lang, kind=kind, mode=mode,
                                                          doc_ids=list(doc_ids) or None))

    if as_json or fmt == "json":
        click.echo(render.json_text(answer))
    elif fmt == "md":
        click.echo(render.markdown(answer), nl=False)
    else:
        given = {"--lang": None if lang == "all" else lang, "--kind": kind, "--doc": ", ".join(doc_ids) or None}
        render.print_hits(answer, filters=" ".join(f"{k} {v}" for k, v in given.items() if v))
    note = render.weak_note(answer)  # last, where a reader's eye ends up
    if note:
        click.echo(note, err=True)


@cli.command()
@click.argument("chunk_id")
@click.option("-c", "--context", default=1, show_default=True, type=click.IntRange(0, 10), help="Neighbouring passages on each side.")
@server_option
@click.pass_context
def show(ctx, chunk_id: str, context: int) -> None:
    """Print passage CHUNK_ID with its neighbouring context."""
    from search_cli import render

    render.print_passage(open_reader(ctx).passage_answer(chunk_id, context))


@cli.command()
@server_option
@click.pass_context
def status(ctx) -> None:
    """Documents, passages, model, index age and what changed since indexing."""
    from search_cli.text import terminal_safe

    kb = open_reader(ctx)
    if is_remote(kb):
        report = kb.status()
    else:
        from indexer.status import knowledge_base_status

        report = knowledge_base_status(kb)
    click.echo(terminal_safe(report.render()))  # file names and problems come from the corpus
    if report.damaged:
        ctx.exit(1)


@cli.command()
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(1, MAX_TOP_K))
@click.option("--lang", type=click.Choice(LANGUAGE_FILTERS), default="all", show_default=True)
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.pass_context
def shell(ctx, top_k: int, lang: str, mode: str) -> None:
    """Ask several questions in a row with the model and index kept loaded."""
    from search_cli.context import note_outdated_analyzer
    from search_cli.shell import run_shell

    kb = open_kb(ctx)
    note_outdated_analyzer(kb)
    kb.warm_up()  # the encoder loads while the prompt waits, so the first answer is as quick as the rest
    run_shell(kb, top_k, lang, mode)


@cli.command(name="eval")
@click.argument("queries_file", required=False, type=click.Path(dir_okay=False))
@click.option("--beir", "beir_dir", type=click.Path(file_okay=False), help="Evaluate on a BEIR-format folder instead.")
@click.option("--split", default=None, help="Query split: dev or test (labeled set: all by default; BEIR: test).")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--workdir", type=click.Path(file_okay=False), help="BEIR: where to keep the benchmark's knowledge base.")
@click.option("--lang", "beir_lang", type=click.Choice(LANGUAGES), help="BEIR: the corpus language (default: detected from its text, nb when unclear).")
@click.option("--misses/--no-misses", default=True, show_default=True, help="List queries whose answer was not first.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def eval_command(ctx, queries_file, beir_dir, split, mode, workdir, beir_lang, misses, as_json) -> None:
    """Score retrieval on a labeled QUERIES_FILE (default eval/queries.yaml) or a BEIR folder."""
    from pathlib import Path

    from kb import evaluate
    from search_cli import render

    if beir_dir:
        from indexer.beir import evaluate_beir
        from kb.config import KBConfig, StoreSettings, find_root, load_config
        from kb.errors import NoKnowledgeBase

        try:  # a benchmark needs no knowledge base of its own; a broken kb.toml is still an error
            config = load_config(find_root(ctx.obj["kb_dir"]))
        except NoKnowledgeBase:
            config = KBConfig()
        # the benchmark's knowledge base lives in its work folder, never in the index database
        config = config.model_copy(update={"store": StoreSettings()})
        progress, update = progress_printer()
        with progress:
            report = evaluate_beir(Path(beir_dir), split or "test", config, mode=mode, language=beir_lang,
                                   workdir=Path(workdir) if workdir else None, progress=update)
    else:
        if beir_lang:
            from kb.errors import UsageError

            raise UsageError("--lang is for --beir; a labeled query set gives each query's language")
        kb = open_kb(ctx)
        path = Path(queries_file) if queries_file else kb.paths.root / "eval" / "queries.yaml"
        report = evaluate.evaluate_labeled(kb, evaluate.load_query_set(path), mode=mode, split=split)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        click.echo(render.eval_table(report, show_misses=misses))


def main() -> None:
    """The console script. Skips the interpreter's teardown (tens of milliseconds spent freeing
    what the operating system reclaims anyway): the index is written through synced, atomic
    renames and survives being killed at any moment, and every other file a command writes is
    closed before it returns, so nothing is left to flush but the output itself."""
    try:
        cli.main(prog_name="kb")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
    try:
        sys.stdout.flush()
    except OSError as exc:
        if exc.errno != errno.EPIPE:  # a reader that stopped early (`kb search … | head`) is no error
            _say(f"kb: error: {output_error(exc)}\n")
        code = code or 1
    _say("")
    os._exit(code)


def _say(line: str) -> None:
    """Write to stderr as a last word: if even that fails, the exit code still tells."""
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except OSError:
        pass


if __name__ == "__main__":
    main()
