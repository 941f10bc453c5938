"""`kb handout PLAN`: course material from a plan of themes and questions."""

from __future__ import annotations

import os
from pathlib import Path

import click

from search_cli.context import is_remote, open_reader, server_option, with_index


@click.command()
@click.argument("plan", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(("md", "html")), default="md", show_default=True,
              help="Markdown, or one self-contained printable HTML page.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write to FILE instead of stdout.")
@server_option
@click.pass_context
def handout(ctx: click.Context, plan: Path, fmt: str, output: Path | None) -> None:
    """Build a handout from PLAN (YAML): the best cited passages per theme and a source list."""
    from kb.errors import UsageError
    from kb.handout import build_handout, load_plan
    from search_cli import handout_render
    from search_cli.text import terminal_safe

    course = load_plan(plan)  # a broken plan fails before the index or encoder loads
    kb = open_reader(ctx)
    if output is not None:
        refuse_to_overwrite_inputs(output, plan, None if is_remote(kb) else kb.paths)
    if is_remote(kb):  # the server searches its own index; the handout is rendered here, as locally
        result = kb.handout(plan.read_text(encoding="utf-8"))
    else:
        result = with_index(ctx, kb, lambda: build_handout(kb, course))
    text = terminal_safe(handout_render.html(result) if fmt == "html" else handout_render.markdown(result))
    weak_themes = [theme.title for theme in result.themes if theme.weak_match and theme.passages]
    weak = f"nothing matches the questions of {', '.join(map(repr, weak_themes))} well; the handout says so under the theme"
    if output is None:
        click.echo(text, nl=False)
        if weak_themes:
            click.echo(terminal_safe(f"kb: note: {weak}"), err=True)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write the handout ({exc.strerror}); choose another -o FILE") from None
    cited = sum(len(theme.passages) for theme in result.themes)
    summary = f"wrote {output}: {len(result.themes)} themes, {cited} passages, {len(result.sources)} sources"
    click.echo(terminal_safe(f"{summary}; {weak}" if weak_themes else summary), err=True)  # one line


def refuse_to_overwrite_inputs(output: Path, plan: Path, paths) -> None:
    """-o must not name the plan (by any path: a link, ../, a hard link) or a file of the
    knowledge base itself (its corpus, its index)."""
    from kb.errors import UsageError

    target = output.resolve()
    if target == plan.resolve() or (output.exists() and plan.exists() and os.path.samefile(output, plan)):
        raise UsageError(f"-o {output}: that is the plan itself; write the handout to another file")
    for folder, what in ((paths.corpus, "the corpus"), (paths.index, "the index")) if paths else ():
        if target.is_relative_to(folder.resolve()):
            raise UsageError(f"-o {output}: inside {what} ({folder}); write the handout outside it")
