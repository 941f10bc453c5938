"""The words a search is asked in: languages, kinds, modes and limits. Each is written out once,
here; the pydantic models, click's choices and the shell's settings all derive from these. No
pydantic: the terminal client of a server (`kb search --server`) loads this and not kb.models."""

from __future__ import annotations

from typing import Literal, get_args

Language = Literal["da", "nb", "en"]
LANGUAGES: tuple[str, ...] = get_args(Language)
LanguageFilter = Literal[Language, "all"]  # "all": no filter
LANGUAGE_FILTERS: tuple[str, ...] = get_args(LanguageFilter)
Kind = Literal[
    "guidance", "manifesto", "course-offer", "slides", "case", "report", "article", "other"
]
KINDS: tuple[str, ...] = get_args(Kind)
SearchMode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = get_args(SearchMode)
MAX_TOP_K = 200  # passages one search returns at most
MAX_QUERY_CHARS = 2000
