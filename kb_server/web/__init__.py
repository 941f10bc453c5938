"""The web page at `/`: search, passages in context and a handout basket, for people with a browser.

One self-contained HTML file (inline style and script; no fonts, images or scripts from anywhere
else) that calls the JSON API like any other client, with the read token it asks for. The page
itself holds no data, so it is public like /health: a browser opening an address cannot send a
token. Its Content-Security-Policy lets only its own script and style (by hash) run, and lets
it talk to this server only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import APIRouter
from starlette.responses import Response

PAGE_PATH = "/"


def page_router() -> APIRouter:
    page = files(__package__).joinpath("index.html").read_text(encoding="utf-8")
    body = page.encode("utf-8")
    headers = {
        "Content-Security-Policy": content_security_policy(page),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the address holds the question
        "Cache-Control": "no-cache",
    }
    router = APIRouter()

    @router.get(PAGE_PATH, include_in_schema=False)
    async def web_page() -> Response:
        return Response(body, media_type="text/html; charset=utf-8", headers=headers)

    return router


def content_security_policy(page: str) -> str:
    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks)

    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
            "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
