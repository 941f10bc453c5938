"""What every command shares: opening the knowledge base, building the index on first use, progress."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, TypeVar

import click

T = TypeVar("T")


def open_kb(ctx: click.Context):
    from kb.knowledge_base import KnowledgeBase

    return KnowledgeBase.open(ctx.obj["kb_dir"])


def open_reader(ctx: click.Context):
    """The kb server named by --server or KB_SERVER, else the local knowledge base: the commands
    that only read (search, show, status, handout) answer the same from either. The HTTP client
    is imported only when a server is named: a local search does not pay for it."""
    import os

    url = ctx.obj.get("server") or os.environ.get("KB_SERVER")  # kb.remote.SERVER_ENV
    if not url:
        return open_kb(ctx)
    from kb.remote import RemoteKnowledgeBase, read_token

    return RemoteKnowledgeBase(url, read_token())


def is_remote(kb) -> bool:
    return not hasattr(kb, "paths")


def _remember_server(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["server"] = value


server_option = click.option(
    "--server", metavar="URL", expose_value=False, callback=_remember_server,
    help="Ask the kb server at URL (default: $KB_SERVER; token from $KB_TOKEN or $KB_TOKEN_FILE).")


def progress_printer():
    """A progress bar on stderr; plain lines ("embedding: 120 …") when stderr is not a terminal."""
    if not sys.stderr.isatty():
        def plain(stage: str, done: int, total: int) -> None:
            if done == 0 and total:
                click.echo(f"{stage}: {total} …", err=True)

        return contextlib.nullcontext(), plain

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=True)
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total or 1)
        progress.update(tasks[stage], completed=done, total=total or 1)

    return progress, update


def run_index(ctx: click.Context, rebuild: bool):
    from indexer.build import build_index
    from kb.config import find_root, load_config

    paths = find_root(ctx.obj["kb_dir"])
    progress, update = progress_printer()
    with progress:
        report = build_index(paths, load_config(paths), rebuild=rebuild, progress=update)
    print_index_summary(report)
    return report


def print_index_summary(report) -> None:
    for problem in report.failed:
        click.echo(f"kb: skipped {problem.message}", err=True)
    for repair in report.repaired:
        click.echo(f"kb: note: {repair}", err=True)
    if report.documents == 0:
        click.echo("kb: the corpus has no documents yet: add files with `kb add PATH` (see README)", err=True)
    click.echo(
        f"added {report.added}, changed {report.changed}, removed {report.removed}, unchanged {report.unchanged} "
        f"· {report.documents} documents, {report.chunks} passages ({report.embedded} embedded) in {report.seconds:.1f} s",
        err=True,
    )


def with_index(ctx: click.Context, kb, action: Callable[[], T]) -> T:
    """Run `action` on the index; a knowledge base never indexed is indexed first (the first
    search after installing just works), then told about an index older than its analyzer."""
    from kb.errors import IndexMissing

    try:
        result = action()
    except IndexMissing:
        if is_remote(kb) or not kb.paths.corpus.is_dir():
            raise
        click.echo("kb: no index yet; building it now (this is `kb index`) …", err=True)
        run_index(ctx, rebuild=False)
        result = action()
    note_outdated_analyzer(kb)
    return result


def note_outdated_analyzer(kb) -> None:
    if kb.analyzer_outdated:
        click.echo("kb: note: the index was built with another analyzer (stemming, glossary) than this kb "
                   "uses: run `kb index` to re-index (vectors are reused)", err=True)
