"""Text out of PDF, DOCX and HTML files, each conversion in a child process with a time budget.

Parsers of damaged files can hang or crash; running them in `python -m indexer.extract FILE`
lets us kill one after KB_EXTRACT_TIMEOUT seconds (default 60) and report the file by name
while the rest of the corpus goes on. A conversion costs a process and a parser (a second or
more), so its result is kept in the index folder by file content: `kb index`, `kb status` and
`kb add` over an archive of PDFs convert only the files that are new or changed. The converted text keeps what citations need: page start
offsets for PDFs, headings as Markdown `#` lines for DOCX and HTML (the chunker's sections).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from kb.errors import CorpusError, UsageError

TIMEOUT_ENV = "KB_EXTRACT_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 86400.0  # a day: a conversion that long has hung (and far larger values overflow the wait)
PAGE_SEPARATOR = "\n\n"
# Where `indexer` is importable as this very package, whatever the caller's working folder holds.
_PACKAGE_PARENT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def _converter_version() -> str:
    """This module's source and the parsers' versions: a new converter converts again."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [hashlib.sha256(Path(__file__).read_bytes()).hexdigest()]
    for package in ("pypdf", "python-docx", "trafilatura"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=-")
    return ";".join(parts)


def extract(path: Path, label: str, cache_dir: Path | None = None) -> tuple[str, list[int]]:
    """The text of a converted source file and the start offset of each page (PDF only).
    With `cache_dir`, each file content is converted once."""
    time_budget()  # a bad KB_EXTRACT_TIMEOUT is reported whether or not a conversion is needed
    if cache_dir is None or not path.is_file():  # a pipe or device is read by the converter alone
        return _convert(path, label)
    from kb.store.caches import ConversionCache

    cache = ConversionCache(cache_dir)
    key = conversion_key(path)
    cached = cache.get(key)
    if cached is not None:
        return cached
    text, pages = _convert(path, label)
    cache.put(key, text, pages)
    return text, pages


_build_keys: dict[tuple[str, int, int], str] | None = None  # file identity -> key, during one build


@contextmanager
def keys_kept_for_one_build() -> Iterator[None]:
    """Within one `kb index` each converted file is read once: the plan reads it, and so does
    forgetting the texts of files the corpus no longer holds. Outside a build every call reads
    the file (a file rewritten within the time-stamp resolution keeps its size and time stamp)."""
    global _build_keys
    _build_keys = {}
    try:
        yield
    finally:
        _build_keys = None


def conversion_key(path: Path) -> str:
    """The file's bytes and type, the converter's code and the parsers' versions."""
    if _build_keys is None:
        return _content_key(path)
    stat = path.stat()
    identity = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if identity not in _build_keys:
        _build_keys[identity] = _content_key(path)
    return _build_keys[identity]


def _content_key(path: Path) -> str:
    return hashlib.sha256(f"{_converter_version()}{path.suffix.lower()}".encode() + path.read_bytes()).hexdigest()


def _convert(path: Path, label: str) -> tuple[str, list[int]]:
    budget = time_budget()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "indexer.extract", os.path.abspath(path), label],
            cwd=_PACKAGE_PARENT, stdin=subprocess.DEVNULL, capture_output=True, timeout=budget,
        )
    except subprocess.TimeoutExpired:
        raise CorpusError(f"{label}: extraction took longer than {budget:g} s; the file may be damaged") from None
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise CorpusError(
            f"{label}: the converter failed (exit {proc.returncode}: {last}); the file may be damaged"
        ) from None
    if "error" in answer:
        raise CorpusError(answer["error"])
    return answer["text"], answer["pages"]


def time_budget() -> float:
    """Seconds one conversion may take: KB_EXTRACT_TIMEOUT, above 0 and at most a day."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:  # also false for nan
        raise UsageError(
            f"{TIMEOUT_ENV}={raw!r}: give a number of seconds above 0 and at most {MAX_TIMEOUT:g}, e.g. {DEFAULT_TIMEOUT:g}"
        )
    return seconds


def convert(path: Path, label: str) -> tuple[str, list[int]]:
    """The conversion itself (runs in the child process)."""
    converters = {".pdf": pdf_text, ".docx": docx_text, ".html": html_text, ".htm": html_text}
    converter = converters.get(path.suffix.lower())
    if converter is None:
        raise CorpusError(f"{label}: cannot convert '{path.suffix}' files; use PDF, DOCX or HTML")
    try:
        text, pages = converter(path, label)
    except OSError as exc:
        raise CorpusError(f"{label}: cannot read the file ({exc.strerror or exc}); check it exists and is readable") from None
    text = text.replace("\r\n", "\n").replace("\x00", "")
    if not text.strip():
        raise CorpusError(f"{label}: has no text; remove the file or fill it in")
    return text, pages


def pdf_text(path: Path, label: str) -> tuple[str, list[int]]:
    from pypdf import PdfReader

    with path.open("rb") as handle:
        try:
            reader = PdfReader(handle)
            if reader.is_encrypted and not reader.decrypt(""):
                raise CorpusError(f"{label}: the PDF is password-protected; save an unprotected copy and add that")
            page_texts = [(page.extract_text() or "").strip() for page in reader.pages]
        except CorpusError:
            raise
        except Exception as exc:  # pypdf raises many types on damaged input; all mean the same here
            raise _damaged(label, "PDF", exc) from None
    if not any(page_texts):
        raise CorpusError(
            f"{label}: the PDF has no extractable text; it may be scanned pages, which need OCR first (e.g. ocrmypdf)"
        )
    pages, offset = [], 0
    for page in page_texts:
        pages.append(offset)
        offset += len(page) + len(PAGE_SEPARATOR)
    return PAGE_SEPARATOR.join(page_texts), pages


MIN_HTML_WORDS = 20  # main text below this is a menu or a landing page, not a document

_HEADING_STYLE = re.compile(r"^(?:heading|overskrift)\s*(\d)$", re.I)
_TITLE_STYLES = {"title", "titel", "tittel"}
_LIST_STYLE = re.compile(r"^(?:list|liste)", re.I)


def docx_text(path: Path, label: str) -> tuple[str, list[int]]:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        blocks = []
        for item in document.iter_inner_content():
            block = _table_text(item) if isinstance(item, Table) else _paragraph_text(item)
            if block:
                blocks.append(block)
    except Exception as exc:  # python-docx/zipfile/lxml errors on damaged input
        raise _damaged(label, "DOCX", exc) from None
    return "\n\n".join(blocks), []


def _paragraph_text(paragraph) -> str:
    text = " ".join(paragraph.text.split())
    if not text:
        return ""
    style = (paragraph.style.name if paragraph.style is not None else "").strip()
    heading = _HEADING_STYLE.match(style)
    if heading:
        return "#" * min(max(int(heading.group(1)), 1), 6) + " " + text
    if style.lower() in _TITLE_STYLES:
        return "# " + text
    # Word lists are either list styles or numbered paragraphs of any style.
    if _LIST_STYLE.match(style) or paragraph._p.xpath("./w:pPr/w:numPr"):
        return "- " + text
    return text


def _table_text(table) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def html_text(path: Path, label: str) -> tuple[str, list[int]]:
    import trafilatura

    data = path.read_bytes()
    try:
        text = trafilatura.extract(
            data, output_format="markdown", include_tables=True, include_comments=False,
            include_images=False, include_links=False,
        )
    except Exception as exc:  # lxml and trafilatura errors on damaged markup
        raise _damaged(label, "HTML", exc) from None
    if not text or not text.strip():
        raise CorpusError(f"{label}: no main text found in this HTML page; save the article text as .txt or .md instead")
    words = main_text_words(text, data)
    if words < MIN_HTML_WORDS:
        raise CorpusError(
            f"{label}: no main text found in this HTML page (only {words} words outside links and menus, "
            f"fewer than {MIN_HTML_WORDS}); save the article text as .txt or .md instead"
        )
    return text, []


# Where a page keeps its furniture: words found here as well are not counted as main text.
_FURNITURE = "//a | //nav | //header | //footer | //menu | //button | //aside"
_WORD = re.compile(r"\w+")


def main_text_words(text: str, page: bytes) -> int:
    """Words of the extracted text that are not also words of links, menus, headers and footers.
    When the extractor finds no article it falls back to whatever the page shows, which on a
    landing page is its menu ("Forside Om os"); counting what is left tells the two apart."""
    from collections import Counter

    import lxml.html

    try:
        tree = lxml.html.document_fromstring(page)
    except Exception:  # lxml's errors on markup it cannot parse at all: nothing to subtract
        return len(_WORD.findall(text))
    nodes = tree.xpath(_FURNITURE)
    inside = set(nodes)
    outermost = [node for node in nodes if not any(parent in inside for parent in node.iterancestors())]
    furniture = Counter(word.lower() for node in outermost for word in _WORD.findall(" ".join(node.itertext())))
    return sum((Counter(word.lower() for word in _WORD.findall(text)) - furniture).values())


def _damaged(label: str, kind: str, exc: Exception) -> CorpusError:
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return CorpusError(f"{label}: cannot read this {kind} ({detail}); the file may be damaged")


def main(argv: list[str]) -> int:
    path, label = Path(argv[0]), argv[1]
    try:
        text, pages = convert(path, label)
        answer: dict = {"text": text, "pages": pages}
    except CorpusError as exc:
        answer = {"error": str(exc)}
    sys.stdout.buffer.write(json.dumps(answer).encode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
