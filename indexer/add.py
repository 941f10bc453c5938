"""Maintaining the corpus: add files with validated metadata, remove documents, check everything.

Each added file lands whole or not at all (written under a hidden temporary name of its own,
then renamed), and a bad file is reported by name while the others go on. Corpus writers take
the corpus lock (`corpus/.lock`) for the whole run, so ids are chosen and duplicates found
against what other `kb add` and `kb remove` runs wrote before; one that has to wait says so.
The index is not touched: `kb index` picks the changes up.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Callable, Iterator, Optional

import yaml
from pydantic import BaseModel, Field

from kb.reports import FileProblem
from indexer.language import detect_language
from indexer.load import (
    SIDECAR_SUFFIX, SOURCE_SUFFIXES, TEXT_SUFFIXES, content_key, decode_text, discover, is_skipped,
    load_document, load_meta, parse_meta, read_file_bytes, read_text_file, require_regular_file,
    sidecar_path, split_front_matter, unreadable,
)
from kb.config import KBPaths
from kb.errors import CorpusError, UsageError
from kb.models import Document
from kb.vocabulary import KINDS, LANGUAGES
from kb.yamlfile import parse_yaml

CASES_DIR = "cases"
DOCUMENTS_DIR = "documents"
LOCK_FILE = ".lock"
_SUPPORTED = ", ".join(SOURCE_SUFFIXES)
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_LEADING_BLANK_LINES = re.compile(r"\A[ \n]*\n")
_TRANSLITERATE = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ß": "ss"})


class AddedDocument(BaseModel):
    doc_id: str
    language: str
    detected: bool = Field(description="the language was detected, not given")
    path: str = Field(description="path relative to the knowledge base root")


class AddReport(BaseModel):
    added: list[AddedDocument] = Field(default_factory=list)
    problems: list[FileProblem] = Field(default_factory=list)


class _Corpus:
    """Ids and contents already in the corpus, so additions neither clash nor repeat."""

    def __init__(self, paths: KBPaths):
        self.ids: set[str] = set()
        self.contents: dict[str, str] = {}  # content key -> doc id
        for path in discover(paths.corpus):
            self.ids.add(path.stem)  # a broken file still holds its file name
            try:
                doc = load_document(path, paths.root)
            except CorpusError:
                continue
            self.remember(doc.meta.id, doc.text)

    def remember(self, doc_id: str, text: str) -> None:
        self.ids.add(doc_id)
        self.contents.setdefault(content_key(text), doc_id)

    def unique_id(self, base: str) -> str:
        candidate, n = base, 2
        while candidate in self.ids:
            candidate, n = f"{base}-{n}", n + 1
        return candidate


def slugify(text: str) -> str:
    """An id from a title or file name: lowercase ASCII letters, digits and '-' (æ→ae, ø→oe, å→aa)."""
    ascii_text = unicodedata.normalize("NFKD", text.lower().translate(_TRANSLITERATE))
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.encode("ascii", "ignore").decode()).strip("-")
    if len(slug) > 60:
        slug = slug[:61].rsplit("-", 1)[0]
    return slug if len(slug) >= 2 else "document"


@contextlib.contextmanager
def corpus_lock(paths: KBPaths, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Held by a process that writes the corpus; another one waits for it (after `on_wait`)."""
    from filelock import FileLock, Timeout

    try:
        paths.corpus.mkdir(parents=True, exist_ok=True)
        lock = FileLock(paths.corpus / LOCK_FILE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait()
            lock.acquire()
    except OSError as exc:
        raise CorpusError(f"{paths.corpus}: cannot write into the corpus ({exc.strerror or exc}); check its permissions") from None
    try:
        yield
    finally:
        lock.release()


def add_paths(
    paths: KBPaths,
    sources: list[Path],
    kind: Optional[str] = None,
    lang: Optional[str] = None,
    title: Optional[str] = None,
    on_wait: Callable[[], None] | None = None,
) -> AddReport:
    """Copy files (folders recursively) into corpus/documents, or corpus/cases for kind case."""
    if kind is not None and kind not in KINDS:
        raise UsageError(f"--kind {kind}: not a kind; use one of {', '.join(KINDS)}")
    if lang is not None and lang not in LANGUAGES:
        raise UsageError(f"--lang {lang}: not a language; use one of {', '.join(LANGUAGES)}")
    files, problems = _expand(sources)
    if title is not None and len(files) > 1:
        raise UsageError("--title names one document; add the files one at a time to title each")
    report = AddReport(problems=problems)
    if not files:
        return report
    with corpus_lock(paths, on_wait):
        corpus = _Corpus(paths)
        for source in files:
            try:
                report.added.append(_add_file(paths, corpus, source, kind, lang, title))
            except CorpusError as exc:
                report.problems.append(FileProblem(path=str(source), message=str(exc)))
            except OSError as exc:
                report.problems.append(FileProblem(path=str(source), message=str(unreadable(str(source), exc, source))))
    return report


def _expand(sources: list[Path]) -> tuple[list[Path], list[FileProblem]]:
    """Files to add: folders walked by the rule `kb index` reads the corpus with (hidden files,
    `_` templates and READMEs skipped; sidecars go with their source)."""
    files: list[Path] = []
    problems: list[FileProblem] = []
    for source in sources:
        if source.is_dir():
            candidates = [
                p for p in sorted(source.rglob("*"))
                if not p.is_dir() and not p.name.endswith(SIDECAR_SUFFIX) and not is_skipped(p.relative_to(source).parts)
            ]
            if not candidates:
                problems.append(FileProblem(path=str(source), message=(
                    f"{source}: no files to add (kb reads {_SUPPORTED}; hidden files, READMEs and names "
                    "starting with '_' are skipped)"
                )))
        elif source.exists() or source.is_symlink():
            candidates = [source]  # a broken link or a pipe is reported by name when read
        else:
            problems.append(FileProblem(path=str(source), message=f"{source}: no such file or folder"))
            continue
        for path in candidates:
            if path.suffix.lower() in SOURCE_SUFFIXES:
                files.append(path)
            else:
                problems.append(FileProblem(
                    path=str(path),
                    message=f"{path}: unsupported file type '{path.suffix or path.name}'; kb reads {_SUPPORTED}",
                ))
    return files, problems


def _add_file(
    paths: KBPaths, corpus: _Corpus, source: Path, kind: Optional[str], lang: Optional[str], title: Optional[str]
) -> AddedDocument:
    label = str(source)
    suffix = source.suffix.lower()
    front_matter = None
    if suffix in TEXT_SUFFIXES:
        data = read_file_bytes(source, label)  # read once: the bytes checked are the bytes copied
        text = decode_text(data, label)
        if suffix == ".md":
            front_matter, text = split_front_matter(text, label)
            if front_matter is not None and not isinstance(front_matter, dict):
                raise CorpusError(f"{label} (front matter): metadata must be a YAML mapping of fields")
    else:
        from indexer import extract

        require_regular_file(source, label)
        text, _ = extract.extract(source, label, paths.index)  # `kb index` then finds the copy converted
        data = _read_bytes(source, label)
    if not text.strip():
        raise CorpusError(f"{label}: has no text; fill it in or leave it out")

    fields = dict(front_matter) if front_matter is not None else _sidecar_fields(source)
    given = {"kind": kind, "language": lang, "title": title}
    fields.update({key: value for key, value in given.items() if value is not None})
    if "kind" not in fields:
        raise CorpusError(f"{label}: no kind; pass --kind ({', '.join(KINDS)}) or put `kind:` in its front matter")
    detected = "language" not in fields
    if detected:
        fields["language"] = detect_language(text)
        if fields["language"] is None:
            raise CorpusError(f"{label}: cannot tell its language; pass --lang {'|'.join(LANGUAGES)}")
    if isinstance(fields.get("id"), str) and fields["id"] in corpus.ids:  # other types: parse_meta names them
        raise CorpusError(f"{label}: id '{fields['id']}' is already in the corpus; give it another id")
    fields.setdefault("title", _first_heading(text) or source.stem.replace("_", " ").replace("-", " "))
    if "id" not in fields:
        fields["id"] = corpus.unique_id(slugify(str(fields["title"])))
    if front_matter is None:
        fields.setdefault("source_file", source.name)
    try:
        meta = parse_meta(fields, label)
    except CorpusError as exc:
        if fields["kind"] != "case":
            raise
        raise CorpusError(f"{exc}; write cases as Markdown from corpus/cases/_TEMPLATE.md") from None
    duplicate = corpus.contents.get(content_key(text))
    if duplicate is not None:
        raise CorpusError(f"{label}: same content as document '{duplicate}', already in the corpus; not added")

    folder = paths.corpus / (CASES_DIR if meta.kind == "case" else DOCUMENTS_DIR)
    target = folder / f"{meta.id}{suffix}"
    if front_matter is not None:
        # Front matter stays the metadata; it is rewritten only if options or defaults added to it.
        body = data if fields == front_matter else _with_front_matter(meta, text).encode("utf-8")
        outputs = {target: body}
    else:
        outputs = {sidecar_path(target): _meta_yaml(meta).encode("utf-8"), target: data}
    _write_all(outputs, label)
    corpus.remember(meta.id, text)
    return AddedDocument(
        doc_id=meta.id, language=meta.language, detected=detected,
        path=target.relative_to(paths.root).as_posix(),
    )


def _sidecar_fields(source: Path) -> dict:
    """Metadata a `<stem>.meta.yaml` beside the source already holds (e.g. from another corpus)."""
    sidecar = sidecar_path(source)
    try:
        if not sidecar.is_file():
            return {}
    except OSError:  # a source name too long to have a sidecar beside it
        return {}
    data = parse_yaml(read_text_file(sidecar, str(sidecar)), str(sidecar), CorpusError)
    if not isinstance(data, dict):
        raise CorpusError(f"{sidecar}: metadata must be a YAML mapping of fields")
    return data


def _first_heading(text: str) -> Optional[str]:
    match = _MD_HEADING.search(text)
    return match.group(1) if match else None


def _meta_yaml(meta) -> str:
    return yaml.safe_dump(meta.model_dump(exclude_defaults=True), allow_unicode=True, sort_keys=False)


def _with_front_matter(meta, body: str) -> str:
    # `body` has the old front matter blanked to spaces and newlines; drop those lines.
    return f"---\n{_meta_yaml(meta)}---\n\n{_LEADING_BLANK_LINES.sub('', body)}"


def _read_bytes(source: Path, label: str) -> bytes:
    try:
        return source.read_bytes()
    except OSError as exc:
        raise unreadable(label, exc, source) from None


def _write_all(outputs: dict[Path, bytes], label: str) -> None:
    """Write every file of one document or none: temporary hidden names first, then renames."""
    for final in outputs:
        if final.exists():
            raise CorpusError(f"{label}: {final.name} already exists in {final.parent.name}/; run `kb validate`")
    temps: dict[Path, Path] = {}
    done: list[Path] = []
    try:
        for final, data in outputs.items():
            final.parent.mkdir(parents=True, exist_ok=True)
            temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.adding")  # never another run's
            temps[final] = temp
            with temp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for final, temp in temps.items():  # the sidecar first: a source never appears without it
            os.replace(temp, final)
            done.append(final)
    except BaseException as exc:
        for path in [*temps.values(), *done]:
            path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise CorpusError(f"{label}: cannot write into the corpus ({exc.strerror or exc}); nothing was added") from None
        raise


def remove_document(paths: KBPaths, doc_id: str, on_wait: Callable[[], None] | None = None) -> list[Path]:
    """Delete a document's file and sidecar; the next `kb index` drops it from the index."""
    with corpus_lock(paths, on_wait):
        return _remove_document(paths, doc_id)


def _remove_document(paths: KBPaths, doc_id: str) -> list[Path]:
    ids = {path: _document_id(path, paths.root) for path in discover(paths.corpus)}
    matches = [path for path, found in ids.items() if found == doc_id]
    if not matches:
        close = difflib.get_close_matches(doc_id, sorted(set(ids.values())), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise UsageError(
            f"no document with id '{doc_id}'; {hint}ids are the file names in corpus/documents and corpus/cases"
        )
    if len(matches) > 1:
        names = ", ".join(p.relative_to(paths.root).as_posix() for p in matches)
        raise CorpusError(f"id '{doc_id}' is used by {names}; delete the one you mean by hand")
    removed = [p for p in (matches[0], sidecar_path(matches[0])) if p.exists()]
    for path in removed:
        path.unlink()
    return removed


def _document_id(path: Path, root: Path) -> str:
    """The id from the metadata alone (no conversion); a file whose metadata is broken goes by its name."""
    try:
        front_matter = None
        if path.suffix.lower() == ".md":
            front_matter, _ = split_front_matter(read_text_file(path, path.name), path.name)
        return load_meta(path, root, front_matter).id
    except (CorpusError, OSError):  # load_meta's own reads may fail on a name that long
        return path.stem


def validate_corpus(paths: KBPaths) -> list[FileProblem]:
    """Every problem of the corpus at once: unloadable files, duplicate ids and contents, strays."""
    problems: list[FileProblem] = []
    ids: dict[str, str] = {}
    contents: dict[str, str] = {}
    for path in discover(paths.corpus):
        label = path.relative_to(paths.root).as_posix()
        try:
            doc = load_document(path, paths.root)
        except CorpusError as exc:
            problems.append(FileProblem(path=label, message=str(exc)))
            continue
        problems.extend(_clashes(doc, ids, contents))
        problems.extend(_control_characters(doc))
    problems.extend(_strays(paths))
    return problems


# Characters a document should not hold: C0 and C1 controls (terminal escapes among them)
# except tab, line and page breaks.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _control_characters(doc: Document) -> list[FileProblem]:
    found = _CONTROL.findall(doc.text)
    if not found:
        return []
    first = _CONTROL.search(doc.text).start()
    if doc.pages:
        where = f"{doc.path} (page {sum(1 for start in doc.pages if start <= first)})"
    else:
        where = f"{doc.path}:{doc.text.count(chr(10), 0, first) + 1}"
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return [FileProblem(path=doc.path, message=(
        f"{where}: control character U+{ord(found[0]):04X}{more} in the text; delete it (in a terminal "
        "such characters can clear the screen or change colours)"
    ))]


def _clashes(doc: Document, ids: dict[str, str], contents: dict[str, str]) -> list[FileProblem]:
    found = []
    if doc.meta.id in ids:
        found.append(FileProblem(path=doc.path, message=f"{doc.path}: id '{doc.meta.id}' is already used by {ids[doc.meta.id]}; give it another id"))
    else:
        ids[doc.meta.id] = doc.path
    key = content_key(doc.text)
    if key in contents:
        found.append(FileProblem(path=doc.path, message=f"{doc.path}: same content as {contents[key]}; remove one of them (`kb remove DOC_ID`)"))
    else:
        contents[key] = doc.path
    return found


def _strays(paths: KBPaths) -> list[FileProblem]:
    """Sidecars without their source, and files kb does not read (they would be silently ignored)."""
    documents = set(discover(paths.corpus))
    found = []
    for path in sorted(paths.corpus.rglob("*")) if paths.corpus.is_dir() else []:
        if not path.is_file() or path in documents or is_skipped(path.relative_to(paths.corpus).parts):
            continue
        label = path.relative_to(paths.root).as_posix()
        if path.name.endswith(SIDECAR_SUFFIX):
            stem = path.name[: -len(SIDECAR_SUFFIX)]
            if not any(path.with_name(stem + suffix).exists() for suffix in SOURCE_SUFFIXES):
                found.append(FileProblem(path=label, message=f"{label}: metadata without a document (no {stem}.txt, .md, .pdf, ...); delete it or restore the document"))
        else:
            found.append(FileProblem(path=label, message=f"{label}: not a file kb reads ({_SUPPORTED}); convert it or move it out of corpus/"))
    return found
