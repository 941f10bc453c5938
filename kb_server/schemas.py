"""What the HTTP API and the MCP tools take and give. Unknown fields are refused, not ignored:
a misspelt `top-k` must not silently search with the default."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kb.models import ContractHit, Hit
from kb.vocabulary import MAX_TOP_K, Kind, LanguageFilter, SearchMode

MAX_DOC_FILTERS = 50
MAX_CONTEXT = 10  # neighbouring passages on each side, as `kb show --context`

DocId = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchFilters(Strict):
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K, description="number of passages")
    lang: LanguageFilter = Field(default="all", description="only passages in this language")
    kind: Optional[Kind] = Field(default=None, description="only documents of this kind")
    doc: list[DocId] = Field(default_factory=list, max_length=MAX_DOC_FILTERS, description="only these documents")
    mode: SearchMode = Field(default="hybrid", description="fused, vectors only, or BM25 only")

    def library_arguments(self) -> dict:
        return {"k": self.top_k, "lang": self.lang, "kind": self.kind, "mode": self.mode, "doc_ids": self.doc or None}


class SearchQuery(SearchFilters):
    """GET /v1/search query parameters, or the POST /v1/search JSON body."""

    q: str = Field(description="the question, in English, Danish or Norwegian")
    details: bool = Field(default=False, description="also return `highlights` and `analyzer_outdated` beside the contract")


class SearchArguments(SearchFilters):
    """The MCP `search` tool's arguments."""

    query: str = Field(description="the question, in English, Danish or Norwegian")


class PassageArguments(Strict):
    chunk_id: str = Field(min_length=1, max_length=200, description="a chunk_id from search results")
    context: int = Field(default=1, ge=0, le=MAX_CONTEXT, description="neighbouring passages on each side")


class NoArguments(Strict):
    pass


# -- answers --------------------------------------------------------------------------------------
class SearchContract(BaseModel):
    """Exactly what `kb search --json` prints."""

    query: str
    model: str
    weak_match: bool = Field(description="no result matches the question well: the nearest passages, not answers")
    confidence: float = Field(description="0-1: the best result's confidence (under 0.5: a weak match)")
    results: list[ContractHit]


class SearchDetails(SearchContract):
    """With `details`: what a terminal needs to print a result as `kb search` does, beside the contract."""

    highlights: list[list[tuple[int, int]]] = Field(
        description="per result, the character spans of its text that match the question")
    analyzer_outdated: bool = Field(description="the index was built with another analyzer than this kb uses")


class PassageAnswer(BaseModel):
    """What `kb show` prints: a passage and its neighbours in its document."""

    passage: Hit
    before: list[Hit]
    after: list[Hit]


class DocumentInfo(BaseModel):
    doc_id: str
    title: str
    language: str
    kind: str
    path: str
    passages: int
    meta: dict = Field(description="the document's metadata (author, publisher, date, origin, tags ...)")


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class ErrorAnswer(BaseModel):
    error: str = Field(description="one line that says what is wrong and what to do")
