"""`kb add`, `kb remove`, `kb validate`: corpus maintenance, wrapping indexer.add.

Library imports stay inside the commands so that `kb` starts fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from kb.vocabulary import KINDS, LANGUAGES


def _note_waiting() -> None:
    click.echo("kb: waiting for another `kb add` or `kb remove` to finish with the corpus …", err=True)


@click.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), help="Kind of document.")
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language (default: detected from the text).")
@click.option("--title", help="Title (default: front matter, first heading, or file name).")
@click.pass_context
def add(ctx: click.Context, sources: tuple[Path, ...], kind: str | None, lang: str | None, title: str | None) -> None:
    """Import files or folders (.md, .txt, .pdf, .docx, .html) into the corpus."""
    from indexer.add import add_paths
    from kb.config import find_root

    report = add_paths(find_root(ctx.obj["kb_dir"]), list(sources), kind=kind, lang=lang, title=title, on_wait=_note_waiting)
    for doc in report.added:
        language = f"{doc.language} (detected)" if doc.detected else doc.language
        click.echo(f"{doc.doc_id}  {language}  {doc.path}")
    for problem in report.problems:
        click.echo(f"kb: not added: {problem.message}", err=True)
    if report.added:
        click.echo(f"added {len(report.added)}; run `kb index` to make it searchable", err=True)
    if report.problems:
        ctx.exit(1)


@click.command()
@click.argument("doc_id")
@click.pass_context
def remove(ctx: click.Context, doc_id: str) -> None:
    """Withdraw document DOC_ID from the corpus (its file and metadata)."""
    from indexer.add import remove_document
    from kb.config import find_root

    paths = find_root(ctx.obj["kb_dir"])
    for path in remove_document(paths, doc_id, on_wait=_note_waiting):
        click.echo(f"removed {path.relative_to(paths.root).as_posix()}")
    click.echo("run `kb index` to drop it from search results", err=True)


@click.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check the whole corpus: metadata, encoding, empty or unreadable files, duplicates."""
    from indexer.add import validate_corpus
    from indexer.load import discover
    from kb.config import find_root

    paths = find_root(ctx.obj["kb_dir"])
    problems = validate_corpus(paths)
    for problem in problems:
        click.echo(problem.message)
    click.echo(f"{len(discover(paths.corpus))} files checked, {len(problems)} problems")
    if problems:
        ctx.exit(1)
