"""The `kb` command: parse arguments, call the library, render. No retrieval logic here."""

from __future__ import annotations

import os
import sys

import click

from kb.models import KINDS, LANGUAGES

from kb.errors import KBError

LANG_CHOICES = ("da", "nb", "en", "all")
MODE_CHOICES = ("hybrid", "dense", "lexical")


class KBGroup(click.Group):
    """Turns library errors into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KBError as exc:
            click.echo(f"kb: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("kb: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=KBGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kb", "kb_dir", metavar="DIR", help="Knowledge base folder (default: $KB_HOME, else the nearest folder with corpus/).")
@click.version_option(package_name="kb-samskabelse", prog_name="kb")
@click.pass_context
def cli(ctx: click.Context, kb_dir: str | None) -> None:
    """Search Danish and Norwegian material on co-creation (samskabelse / samskaping) with citations."""
    ctx.obj = {"kb_dir": kb_dir}


def open_kb(ctx: click.Context):
    from kb.knowledge_base import KnowledgeBase

    return KnowledgeBase.open(ctx.obj["kb_dir"])


def _progress_printer():
    """A progress bar on stderr (plain lines when stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if not console.is_terminal:
            if done == 0 and total:
                console.print(f"{stage}: {total} …")
            return
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total or 1)
        progress.update(tasks[stage], completed=done, total=total or 1)

    return progress, update


def run_index(ctx: click.Context, rebuild: bool):
    from indexer.build import build_index
    from kb.config import find_root, load_config

    paths = find_root(ctx.obj["kb_dir"])
    progress, update = _progress_printer()
    with progress:
        report = build_index(paths, load_config(paths), rebuild=rebuild, progress=update)
    for problem in report.failed:
        click.echo(f"kb: skipped {problem.message}", err=True)
    if report.documents == 0:
        click.echo("kb: the corpus has no documents yet: add files with `kb add PATH` (see README)", err=True)
    click.echo(
        f"added {report.added}, changed {report.changed}, removed {report.removed}, unchanged {report.unchanged} "
        f"· {report.documents} documents, {report.chunks} passages ({report.embedded} embedded) in {report.seconds:.1f} s",
        err=True,
    )
    return report


@cli.command()
@click.option("--rebuild", is_flag=True, help="Start from scratch (re-embed everything).")
@click.pass_context
def index(ctx: click.Context, rebuild: bool) -> None:
    """Build or update the index (only new and changed documents are embedded)."""
    report = run_index(ctx, rebuild)
    if report.failed:
        ctx.exit(1)


def note_outdated_analyzer(kb) -> None:
    if kb.analyzer_outdated:
        click.echo("kb: note: the index was built with another analyzer (stemming, glossary) than this kb "
                   "uses: run `kb index` to re-index (vectors are reused)", err=True)


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(1, 200), help="Number of passages.")
@click.option("--lang", type=click.Choice(LANG_CHOICES), default="all", show_default=True, help="Only passages in this language.")
@click.option("--kind", type=click.Choice(KINDS), help="Only documents of this kind.")
@click.option("--doc", "doc_ids", multiple=True, metavar="DOC_ID", help="Only these documents (repeatable).")
@click.option("--mode", type=click.Choice(MODE_CHOICES), default="hybrid", show_default=True, help="Retrieval: fused, vectors only, or BM25 only.")
@click.option("--format", "fmt", type=click.Choice(("text", "json", "md")), default="text", show_default=True, help="Output format.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_context
def search(ctx, query, top_k, lang, kind, doc_ids, mode, fmt, as_json) -> None:
    """Find the passages that answer QUERY (English, Danish or Norwegian)."""
    from kb.errors import IndexMissing

    kb = open_kb(ctx)
    text = " ".join(query)
    try:
        result = kb.search(text, k=top_k, lang=lang, kind=kind, mode=mode, doc_ids=list(doc_ids) or None)
    except IndexMissing:
        if not kb.paths.corpus.is_dir():
            raise
        click.echo("kb: no index yet; building it now (this is `kb index`) …", err=True)
        run_index(ctx, rebuild=False)
        result = kb.search(text, k=top_k, lang=lang, kind=kind, mode=mode, doc_ids=list(doc_ids) or None)
    note_outdated_analyzer(kb)
    from search_cli import render

    if as_json or fmt == "json":
        click.echo(render.json_text(result))
    elif fmt == "md":
        click.echo(render.markdown(result), nl=False)
    else:
        given = {"--lang": None if lang == "all" else lang, "--kind": kind, "--doc": ", ".join(doc_ids) or None}
        render.print_hits(result, kb.highlighter(text), filters=" ".join(f"{k} {v}" for k, v in given.items() if v))


@cli.command()
@click.argument("chunk_id")
@click.option("-c", "--context", default=1, show_default=True, type=click.IntRange(0, 10), help="Neighbouring passages on each side.")
@click.pass_context
def show(ctx, chunk_id: str, context: int) -> None:
    """Print passage CHUNK_ID with its neighbouring context."""
    from search_cli import render

    this, before, after = open_kb(ctx).passage(chunk_id, context)
    render.print_passage(this, before, after)


@cli.command()
@click.pass_context
def status(ctx) -> None:
    """Documents, passages, model, index age and what changed since indexing."""
    from indexer.status import knowledge_base_status

    report = knowledge_base_status(open_kb(ctx))
    click.echo(report.render())


@cli.command()
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(1, 200))
@click.option("--lang", type=click.Choice(LANG_CHOICES), default="all", show_default=True)
@click.option("--mode", type=click.Choice(MODE_CHOICES), default="hybrid", show_default=True)
@click.pass_context
def shell(ctx, top_k: int, lang: str, mode: str) -> None:
    """Ask several questions in a row with the model and index kept loaded."""
    from search_cli.shell import run_shell

    kb = open_kb(ctx)
    note_outdated_analyzer(kb)
    kb.warm_up()  # the encoder loads while the prompt waits, so the first answer is as quick as the rest
    run_shell(kb, top_k, lang, mode)


@cli.command(name="eval")
@click.argument("queries_file", required=False, type=click.Path(dir_okay=False))
@click.option("--beir", "beir_dir", type=click.Path(file_okay=False), help="Evaluate on a BEIR-format folder instead.")
@click.option("--split", default=None, help="Query split: dev or test (labeled set: all by default; BEIR: test).")
@click.option("--mode", type=click.Choice(MODE_CHOICES), default="hybrid", show_default=True)
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
        from kb.config import find_root, load_config

        try:
            config = load_config(find_root(ctx.obj["kb_dir"]))
        except KBError:
            from kb.config import KBConfig

            config = KBConfig()
        progress, update = _progress_printer()
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


from search_cli.handout_cmd import handout  # noqa: E402
cli.add_command(handout)


from search_cli.maintain_cmd import add, remove, validate  # noqa: E402
for command in (add, remove, validate): cli.add_command(command)


from search_cli.serve_cmd import mcp_stdio, serve  # noqa: E402
for command in (serve, mcp_stdio): cli.add_command(command)


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
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # the reader stopped early (`kb search … | head`), or the disk is full
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    main()
