"""Any sentence-transformers model by hub name or local path (torch is imported only here)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kb.embed.text import clean_for_encoder
from kb.errors import UsageError
from kb.models import EmbedderSpec

# Models trained with instruction prefixes; used when kb.toml does not set them.
KNOWN_PREFIXES: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "bge-m3": ("", ""),
    "bge": ("Represent this sentence for searching relevant passages: ", ""),
}


def default_prefixes(model: str) -> tuple[str, str]:
    name = model.rstrip("/").rsplit("/", 1)[-1].lower()
    for marker, prefixes in KNOWN_PREFIXES.items():
        if marker in name:
            return prefixes
    return ("", "")


def missing_local_model(model: str) -> Optional[str]:
    """The folder a model named by path would be in, when it is not there. A hub name ("org/name")
    is not a path; one starting with /, ~ or . is, and loading torch to find it absent takes seconds."""
    if not model.startswith(("/", "~", ".")) and not (len(model) > 2 and model[1] == ":"):  # C:\models\e5
        return None
    path = Path(model).expanduser()
    return None if path.exists() else str(path.absolute())


class SentenceTransformerEmbedder:
    def __init__(self, spec: EmbedderSpec):
        missing = missing_local_model(spec.model)
        if missing:
            raise UsageError(f"cannot load sentence-transformers model {spec.model!r}: no folder {missing}; "
                             "set [embedder] model in kb.toml to a model folder or a hub name")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise UsageError(
                "the sentence-transformers backend is not installed: "
                "pip install torch==2.13.0 && pip install -e '.[st]'"
            ) from exc
        try:
            self._model = SentenceTransformer(spec.model, device="cpu")
        except Exception as exc:  # hub unreachable, bad path, broken weights
            raise UsageError(
                f"cannot load sentence-transformers model {spec.model!r}: {exc}".splitlines()[0]
            ) from exc
        q_default, p_default = default_prefixes(spec.model)
        self.query_prefix = spec.query_prefix if spec.query_prefix is not None else q_default
        self.passage_prefix = spec.passage_prefix if spec.passage_prefix is not None else p_default
        self.normalized = spec.normalize
        # renamed in sentence-transformers 5; keep working with 3.x and 4.x
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.name = f"sentence-transformers:{spec.model}"
        self._batch_size = spec.batch_size

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        vectors = self._model.encode(
            [prefix + clean_for_encoder(t) for t in texts],
            batch_size=self._batch_size,
            normalize_embeddings=self.normalized,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)
