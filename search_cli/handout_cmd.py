"""`kb handout PLAN`: course material from a plan of themes and questions."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("plan", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(("md", "html")), default="md", show_default=True,
              help="Markdown, or one self-contained printable HTML page.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write to FILE instead of stdout.")
@click.pass_context
def handout(ctx: click.Context, plan: Path, fmt: str, output: Path | None) -> None:
    """Build a handout from PLAN (YAML): the best cited passages per theme and a source list."""
    from kb.errors import IndexMissing, UsageError
    from kb.handout import build_handout, load_plan
    from search_cli import handout_render
    from search_cli.app import note_outdated_analyzer, open_kb, run_index  # here, not at module level: app imports this module

    course = load_plan(plan)  # a broken plan fails before the index or encoder loads
    kb = open_kb(ctx)
    try:
        result = build_handout(kb, course)
    except IndexMissing:
        if not kb.paths.corpus.is_dir():
            raise
        click.echo("kb: no index yet; building it now (this is `kb index`) …", err=True)
        run_index(ctx, rebuild=False)
        result = build_handout(kb, course)
    note_outdated_analyzer(kb)
    text = handout_render.html(result) if fmt == "html" else handout_render.markdown(result)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write the handout ({exc.strerror}); choose another -o FILE") from None
    cited = sum(len(theme.passages) for theme in result.themes)
    click.echo(f"wrote {output}: {len(result.themes)} themes, {cited} passages, {len(result.sources)} sources", err=True)
