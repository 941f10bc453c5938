"""`kb store migrate --to URL`: move the index from the local files into PostgreSQL."""

from __future__ import annotations

import click


@click.group()
def store() -> None:
    """Where the index lives: the local .kb/ folder (default) or a PostgreSQL database."""


@store.command()
@click.option("--to", "url", required=True, metavar="URL", help="The database, e.g. postgresql://kb@dbhost/kb.")
@click.pass_context
def migrate(ctx: click.Context, url: str) -> None:
    """Index the corpus into the database at URL, reusing the local index's vectors (nothing is
    embedded again). The local index stays; point kb at the database with [store] url in kb.toml
    or KB_DATABASE_URL."""
    from indexer.move import move_to_database
    from kb.config import find_root, load_config
    from search_cli.context import print_index_summary, progress_printer

    paths = find_root(ctx.obj["kb_dir"])
    progress, update = progress_printer()
    with progress:
        report = move_to_database(paths, load_config(paths), url, progress=update)
    print_index_summary(report.index)
    click.echo(f"moved to {report.url} ({report.copied} vectors copied); search it with [store] url = \"{report.url}\" "
               "in kb.toml or KB_DATABASE_URL", err=True)
    if report.index.failed:
        ctx.exit(1)
