"""Where a passage is, in words: the citation `kb search` prints and the reference a handout gives.

Both follow one rule: pages for a paginated source, otherwise the line range in the file.
"""

from __future__ import annotations

from typing import Mapping, Optional

# The words a citation uses; a handout passes its own language's (s., linje …).
PLAIN_WORDS = {"page": "p.", "pages": "pp.", "line": "line", "lines": "lines"}


def span(start: int, end: Optional[int], dash: str = "-") -> str:
    return f"{start}" if not end or end == start else f"{start}{dash}{end}"


def location(line_start: int, line_end: int, page_start: Optional[int], page_end: Optional[int],
             words: Mapping[str, str] = PLAIN_WORDS, dash: str = "–") -> str:
    """"pp. 3–5" for a paginated source, else "lines 17–21", in the given words."""
    if page_start:
        single = not page_end or page_end == page_start
        return f"{words['page' if single else 'pages']} {span(page_start, page_end, dash)}"
    return f"{words['line' if line_start == line_end else 'lines']} {span(line_start, line_end, dash)}"


def citation(path: str, line_start: int, line_end: int, page_start: Optional[int], page_end: Optional[int],
             section: str) -> str:
    """The machine-friendly form: path:17-21 for a text file, "path, pp. 3-5" for a paginated
    source, and the section of a converted file whose lines are not the original's."""
    if page_start:
        return f"{path}, {location(line_start, line_end, page_start, page_end, dash='-')}"
    if path.endswith((".txt", ".md")):
        return f"{path}:{span(line_start, line_end)}"
    return f"{path}, section \"{section}\"" if section else path
