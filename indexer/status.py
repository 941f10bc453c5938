"""What the index holds and how the corpus has moved on since it was built."""

from __future__ import annotations

from indexer.build import make_plan, previous_documents
from indexer.chunk import CHUNKER_VERSION
from kb.errors import IndexCorrupt, IndexMissing
from kb.knowledge_base import KnowledgeBase
from kb.reports import StatusReport


def knowledge_base_status(kb: KnowledgeBase, verify: bool = True) -> StatusReport:
    """`verify` hashes every index file (about 0.8 s for a million passages): a caller asking
    often, such as a server's health check, can leave it out."""
    report = StatusReport(root=str(kb.paths.root), indexed=False)
    try:
        if verify:
            report.damaged = [f"{d.part}: {d.problem}" for d in kb.store.verify()]
        manifest = kb.manifest
    except IndexMissing:
        manifest = None
    except IndexCorrupt:
        if not report.damaged:
            raise
        manifest = None
    if manifest is not None:
        report.indexed = True
        report.documents, report.chunks = manifest.documents, manifest.chunks
        report.model = f"{manifest.backend}:{manifest.model} ({manifest.dim} d)"
        report.faiss_index = manifest.faiss_index
        report.built_at = manifest.created_at
        report.age_seconds = round(kb.index_age_seconds(), 1)
        report.outdated = [name for name, outdated in (
            ("chunker", manifest.chunker_version != CHUNKER_VERSION),
            ("analyzer (stemming, glossary)", kb.analyzer_outdated),
        ) if outdated]
    if report.damaged:  # what the index holds is in doubt until `kb index` repairs it
        report.problems = make_plan(kb.paths, kb.config, {}).failed
        return report
    plan = make_plan(kb.paths, kb.config, previous_documents(kb.store))
    report.new = [p.doc.path for p in plan.documents if p.state == "new"]
    report.changed = [p.doc.path for p in plan.documents if p.state == "changed"]
    report.removed = plan.removed
    report.problems = plan.failed
    return report
