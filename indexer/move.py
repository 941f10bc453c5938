"""Move a knowledge base's index from its local files into a PostgreSQL database, reusing the
vectors: the local embedding cache is copied into the database's, then the database is indexed
as `kb index` would, finding every vector already there (nothing is embedded again)."""

from __future__ import annotations

from pydantic import BaseModel

from indexer.build import IndexReport, Progress, build_index
from kb.config import KBConfig, KBPaths, StoreSettings
from kb.errors import IndexMissing, ModelMismatch, UsageError
from kb.store import DamagedVectors, open_store

COPY_BATCH = 20_000


class MoveReport(BaseModel):
    url: str  # without its password
    copied: int  # vectors the database lacked
    index: IndexReport


def move_to_database(paths: KBPaths, config: KBConfig, url: str, progress: Progress | None = None) -> MoveReport:
    """Copy the local index's vectors into the database of `url` and index the corpus there."""
    from kb.store.postgres import shown_url

    progress = progress or (lambda stage, done, total: None)
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"--to {url!r}: give a PostgreSQL URL, e.g. postgresql://kb@dbhost/kb")
    local = open_store(paths, config.model_copy(update={"store": StoreSettings()}))
    try:
        manifest = local.open_reader().manifest
    except IndexMissing:
        raise UsageError("this knowledge base has no local index to move: run `kb index` first, "
                         f"or set [store] url and run `kb index` to build in the database") from None
    spec = config.embedder
    if (manifest.backend, manifest.model) != (spec.backend, spec.model):
        raise ModelMismatch(f"the local index was built with {manifest.backend}:{manifest.model} but kb.toml selects "
                            f"{spec.backend}:{spec.model}; run `kb index --rebuild` first, or select the index's encoder")
    target_config = config.model_copy(update={"store": StoreSettings(url=url)})
    target = open_store(paths, target_config)
    source, sink = local.embedding_cache(manifest.dim), target.embedding_cache(manifest.dim)
    copied = 0
    try:
        keys = sink.missing(source.keys())
        progress("copying vectors", 0, len(keys))
        for start in range(0, len(keys), COPY_BATCH):
            part = keys[start : start + COPY_BATCH]
            try:
                vectors = source.get(part)
            except DamagedVectors as exc:  # forgotten by the cache: the build below computes them again
                part = [k for k in part if k not in set(exc.keys)]
                vectors = source.get(part)
            sink.put(part, vectors)
            copied += len(part)
            progress("copying vectors", copied, len(keys))
    finally:
        source.close()
        sink.close()
        target.close()
    report = build_index(paths, target_config, progress=progress)
    return MoveReport(url=shown_url(url), copied=copied, index=report)
