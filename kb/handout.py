"""Course handouts: a plan of themes and questions in, the best cited passages per theme out.

Each theme's questions are searched; a passage's fit to a theme is the reciprocal rank it reaches
for the theme's best-matching question, which makes fits comparable across themes whose questions
score on different scales. Passages go to themes in order of fit (so a passage stays with the theme
it fits best), each passage at most once; near-duplicates inside a theme collapse into the passage
that fits better. A theme may instead name its passages (`chunks`, e.g. a basket of passages a
trainer chose): those are printed in the given order, before any search, under the same rules
(each passage once, near-duplicates collapsed). Sources are numbered in order of first citation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, ValidationError

from kb.confidence import WEAK_BELOW
from kb.errors import UsageError
from kb.models import ID_PATTERN, Hit
from kb.validation import one_line
from kb.vocabulary import MAX_QUERY_CHARS, MAX_TOP_K, Kind, Language, LanguageFilter
from kb.yamlfile import parse_yaml_tree

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS)]
DocId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
ChunkId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=ID_PATTERN.rstrip("$") + r"#[1-9][0-9]*$")]
SEARCH_FIELDS = ("passages", "lang", "kind", "documents")  # what chooses passages when a theme names none

SHINGLE = 3          # words per shingle when comparing passages
NEAR_DUPLICATE = 0.6  # Jaccard similarity of shingle sets from which two passages count as one
CONTAINED = 0.8       # share of the shorter passage's shingles found in the longer one


# -- the plan ---------------------------------------------------------------------------------
class Theme(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text
    questions: list[Question] = Field(min_length=1)
    passages: int = Field(default=3, ge=1, le=20, description="passages wanted for this theme")
    lang: Optional[LanguageFilter] = None
    kind: Optional[Kind] = None
    documents: Optional[list[DocId]] = Field(default=None, min_length=1)
    chunks: Optional[list[ChunkId]] = Field(
        default=None, min_length=1, max_length=100,
        description="the passages to print, by chunk id, in this order, instead of searching the questions",
    )

    _where: str = PrivateAttr(default="")  # "plan.yaml:12", for errors found against the index


class HandoutPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text
    audience: Text
    intro: Optional[str] = None
    language: Language = Field(default="da", description="language of the handout's own labels")
    themes: list[Theme] = Field(min_length=1)


def load_plan(path: Path) -> HandoutPlan:
    """Read and validate a plan file; every error is one line naming the file, line and field."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such plan file; see handouts/example.yaml for the format") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, not a plan file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    return parse_plan(raw, str(path))


def parse_plan(raw: str, source: str) -> HandoutPlan:
    """Validate a plan given as YAML (or JSON, which YAML reads too); errors name `source`."""
    data, root = parse_yaml_tree(raw, source)
    if not isinstance(data, dict):
        line = root.start_mark.line + 1 if root is not None else 1
        raise UsageError(f"{source}:{line}: a plan is a mapping with title, audience and themes; see handouts/example.yaml")
    try:
        plan = HandoutPlan.model_validate(data)
    except ValidationError as exc:
        message = one_line(exc, data, items={"themes": ("theme", "title")},
                           unknown_hint="see handouts/example.yaml for the fields a plan takes")
        raise UsageError(f"{source}:{_line_of(root, exc.errors()[0]['loc'])}: {message}") from None
    for node, theme in zip(_child(root, "themes").value, plan.themes):
        theme._where = f"{source}:{node.start_mark.line + 1}"
    return plan


def _child(node, key):
    """The YAML node under `key` (a mapping key or a list index), or None."""
    if isinstance(node, yaml.MappingNode) and isinstance(key, str):
        return next((value for k, value in node.value if k.value == key), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _line_of(root, loc: tuple) -> int:
    """1-based line of the deepest node on a pydantic error path (a missing field: its parent)."""
    node = root
    for key in loc:
        child = _child(node, key)
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


# -- the handout --------------------------------------------------------------------------------
class Citation(BaseModel):
    """Where a passage is, and which entry of the source list holds its document."""

    source: int
    chunk_id: str
    doc_id: str
    title: str
    section: str
    path: str
    citation: str = Field(description="as `kb search` prints it: path:lines or path, pages")
    line_start: int
    line_end: int
    page_start: Optional[int] = None
    page_end: Optional[int] = None


class Passage(BaseModel):
    cite: Citation
    language: str
    text: str
    collapsed: list[Citation] = Field(default_factory=list, description="near-duplicates shown only as references")
    confidence: Optional[float] = Field(
        default=None, description="0-1: how well it matches the theme's best-matched question; none for a named passage")


class ThemeSection(BaseModel):
    title: str
    questions: list[str]
    passages: list[Passage]
    weak_match: bool = Field(
        default=False, description="the theme was searched and no passage matches its questions well")


class Source(BaseModel):
    number: int
    doc_id: str
    title: str
    language: str
    kind: str
    path: str
    author: Optional[str] = None
    publisher: Optional[str] = None
    date: Optional[str] = None
    origin: Optional[str] = None
    source_file: Optional[str] = None


class Handout(BaseModel):
    title: str
    audience: str
    intro: Optional[str] = None
    language: str
    themes: list[ThemeSection]
    sources: list[Source]


@dataclass
class _Candidate:
    """A passage as one theme's questions found it."""

    hit: Hit
    best_rank: int
    rank_sum: float  # reciprocal ranks over the theme's questions: more questions answered, better fit
    best_score: float
    confidence: float  # the best over the theme's questions

    def fit(self) -> tuple:
        return (-1.0 / self.best_rank, -self.rank_sum, -self.best_score)


Pick = tuple[Hit, list[Hit]]  # a printed passage and the near-duplicates shown as references


def build_handout(kb, plan: HandoutPlan) -> Handout:
    docs = {d["doc_id"]: d for d in kb.documents()}
    for theme in plan.themes:
        _check_theme(theme, docs)
    shingles: dict[str, frozenset] = {}
    used: set[str] = set()
    chosen = [_named_picks(kb, theme, used, shingles) for theme in plan.themes]  # named passages first
    candidates = [_theme_candidates(kb, theme) if theme.chunks is None else {} for theme in plan.themes]
    _assign(plan, candidates, chosen, used, shingles)

    numbers: dict[str, int] = {}
    sections = []
    for theme, picks in zip(plan.themes, chosen):
        passages = []
        for hit, twins in picks:
            cites = [_cite(h, numbers.setdefault(h.doc_id, len(numbers) + 1)) for h in (hit, *twins)]
            passages.append(Passage(cite=cites[0], language=hit.language, text=hit.text, collapsed=cites[1:],
                                    confidence=hit.confidence))
        weak = theme.chunks is None and not any(p.confidence >= WEAK_BELOW for p in passages)
        sections.append(ThemeSection(title=theme.title, questions=list(theme.questions), passages=passages, weak_match=weak))
    sources = [_source(number, docs[doc_id]) for doc_id, number in numbers.items()]
    return Handout(title=plan.title, audience=plan.audience, intro=plan.intro, language=plan.language,
                   themes=sections, sources=sources)


def _check_theme(theme: Theme, docs: dict) -> None:
    where = f"{theme._where}: " if theme._where else ""
    unknown = sorted(set(theme.documents or ()) - docs.keys())
    if unknown:
        raise UsageError(
            f"{where}theme {theme.title!r}, field 'documents': the index holds no {', '.join(unknown)}; "
            f"known: {', '.join(sorted(docs))}"
        )
    search_only = [name for name in SEARCH_FIELDS if name in theme.model_fields_set]
    if theme.chunks is not None and search_only:
        raise UsageError(
            f"{where}theme {theme.title!r}: 'chunks' names the passages, so field '{search_only[0]}' has no use; "
            f"leave out {', '.join(SEARCH_FIELDS)} or 'chunks'"
        )


def _named_picks(kb, theme: Theme, used: set[str], shingles: dict[str, frozenset]) -> list[Pick]:
    """The passages a theme names, in its order; one already printed is skipped."""
    picks: list[Pick] = []
    if theme.chunks is None:
        return picks
    hits, unknown = {}, []
    for chunk_id in dict.fromkeys(theme.chunks):
        try:
            hits[chunk_id] = kb.passage(chunk_id, 0)[0]
        except UsageError:
            unknown.append(chunk_id)
    if unknown:
        where = f"{theme._where}: " if theme._where else ""
        raise UsageError(f"{where}theme {theme.title!r}, field 'chunks': the index holds no passage "
                         f"{', '.join(unknown)}; take chunk ids from `kb search` (re-indexing a changed document renumbers its passages)")
    for chunk_id, hit in hits.items():
        if chunk_id not in used:
            _place(picks, hit, shingles, limit=len(hits))
            used.add(chunk_id)
    return picks


def _theme_candidates(kb, theme: Theme) -> dict[str, _Candidate]:
    k = min(MAX_TOP_K, max(10, 3 * theme.passages))  # room to skip passages taken or collapsed
    found: dict[str, _Candidate] = {}
    for question in theme.questions:
        result = kb.search(question, k=k, lang=theme.lang, kind=theme.kind, doc_ids=theme.documents)
        for hit in result.hits:
            seen = found.get(hit.chunk_id)
            if seen is None:
                found[hit.chunk_id] = _Candidate(hit=hit, best_rank=hit.rank, rank_sum=1.0 / hit.rank, best_score=hit.score,
                                                 confidence=hit.confidence)
            else:
                seen.confidence = max(seen.confidence, hit.confidence)
                seen.rank_sum += 1.0 / hit.rank
                seen.best_score = max(seen.best_score, hit.score)
                if hit.rank < seen.best_rank:
                    seen.best_rank, seen.hit = hit.rank, hit
    return found


def _assign(plan: HandoutPlan, candidates: list[dict[str, _Candidate]], chosen: list[list[Pick]],
            used: set[str], shingles: dict[str, frozenset]) -> None:
    """Best fits first: each passage not yet `used` goes to one theme, near-duplicates in a theme collapse."""
    pairs = sorted(
        ((cand.fit(), t, chunk_id) for t, found in enumerate(candidates) for chunk_id, cand in found.items()),
    )
    for _, t, chunk_id in pairs:
        if chunk_id in used:
            continue
        cand = candidates[t][chunk_id]  # its confidence: for the theme's question it matches best
        if _place(chosen[t], cand.hit.model_copy(update={"confidence": cand.confidence}), shingles, plan.themes[t].passages):
            used.add(chunk_id)


def _place(picks: list[Pick], hit: Hit, shingles: dict[str, frozenset], limit: int) -> bool:
    """Add `hit` to a theme's picks, as a near-duplicate of one already there or as a passage of
    its own while there is room; False when the theme is full (another may still take it)."""
    mine = shingles.setdefault(hit.chunk_id, _shingles(hit.text))
    twin = next((pick for pick in picks if _near_duplicate(mine, shingles[pick[0].chunk_id])), None)
    if twin is not None:
        twin[1].append(hit)
    elif len(picks) < limit:
        picks.append((hit, []))
    else:
        return False
    return True


def _shingles(text: str) -> frozenset:
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())
    if len(words) <= SHINGLE:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1))


def _near_duplicate(a: frozenset, b: frozenset) -> bool:
    common = len(a & b)
    if not common:
        return False
    return common / len(a | b) >= NEAR_DUPLICATE or common / min(len(a), len(b)) >= CONTAINED


def _cite(hit: Hit, source: int) -> Citation:
    return Citation(
        source=source, chunk_id=hit.chunk_id, doc_id=hit.doc_id, title=hit.title, section=hit.section,
        path=hit.path, citation=hit.citation, line_start=hit.line_start, line_end=hit.line_end,
        page_start=hit.page_start, page_end=hit.page_end,
    )


def _source(number: int, doc: dict) -> Source:
    meta = json.loads(doc["meta_json"] or "{}")
    return Source(
        number=number, doc_id=doc["doc_id"], title=doc["title"], language=doc["language"], kind=doc["kind"],
        path=doc["path"], **{key: meta.get(key) for key in ("author", "publisher", "date", "origin", "source_file")},
    )
