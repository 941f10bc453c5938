"""`kb serve` and `kb mcp`: one warm process for a team (HTTP, MCP) or for one assistant (stdio).

The server's packages (FastAPI, uvicorn, the MCP SDK) load only inside these commands.
"""

from __future__ import annotations

import click

from search_cli.context import open_kb


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Any other than this machine's own (loopback) requires read tokens.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port (0: a free one, printed at start).")
@click.option("--token-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Read tokens, one a line (also: KB_TOKEN_FILE, or KB_TOKENS=token1,token2).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, envvar="KB_ALLOWED_HOSTS", metavar="NAME",
              help="A host name clients use, e.g. behind a proxy (repeatable; KB_ALLOWED_HOSTS, space-separated).")
@click.option("--cors-origin", "cors_origins", multiple=True, envvar="KB_CORS_ORIGINS", metavar="URL",
              help="Let pages from this origin call the API (repeatable; off by default).")
@click.option("--log-queries", is_flag=True, help="Write the query text into the access log (off: questions may name people).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, token_file: str | None, allowed_hosts: tuple[str, ...],
          cors_origins: tuple[str, ...], log_queries: bool) -> None:
    """Serve the knowledge base over HTTP: a JSON API (/v1), MCP (/mcp), /openapi.json."""
    from kb_server.run import require_server_extra, serve as run_server
    from kb_server.settings import make_settings

    require_server_extra()
    settings = make_settings(host, port, token_file, allowed_hosts, cors_origins, log_queries)
    run_server(open_kb(ctx), settings)


@click.command(name="mcp")
@click.pass_context
def mcp_stdio(ctx: click.Context) -> None:
    """Serve the knowledge base to one MCP client over stdin/stdout."""
    from kb_server.run import require_server_extra, serve_mcp_stdio

    require_server_extra()
    serve_mcp_stdio(open_kb(ctx))
