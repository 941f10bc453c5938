"""Reports that cross the seam between a knowledge base and whoever shows them (the terminal,
the server, a remote client): plain pydantic, so a client renders them without the engine."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel


class FileProblem(BaseModel):
    path: str
    message: str


class StatusReport(BaseModel):
    root: str
    indexed: bool
    documents: int = 0
    chunks: int = 0
    model: Optional[str] = None
    faiss_index: Optional[str] = None
    built_at: Optional[str] = None
    age_seconds: Optional[float] = None
    new: list[str] = []
    changed: list[str] = []
    removed: list[str] = []
    outdated: list[str] = []  # chunker, analyzer: the index was built by other code than this kb's
    problems: list[FileProblem] = []
    damaged: list[str] = []  # parts of the index that no longer hold what was written

    def render(self) -> str:
        lines = [f"knowledge base  {self.root}"]
        if not self.indexed and self.damaged:
            lines.append("index           damaged")
        elif not self.indexed:
            lines.append("index           none yet: run `kb index`")
        else:
            lines += [
                f"index           {self.documents} documents, {self.chunks} passages ({self.faiss_index})",
                f"model           {self.model}",
                f"built           {self.built_at} ({_age(self.age_seconds or 0)} ago)",
            ]
        if self.outdated:
            lines.append(f"settings        the {' and the '.join(self.outdated)} changed since indexing: "
                         "`kb index` re-indexes every document (vectors come from the cache)")
        pending = [("new", self.new), ("changed", self.changed), ("removed", self.removed)]
        if any(items for _, items in pending):
            lines.append("since indexing  " + ", ".join(f"{len(items)} {name}" for name, items in pending) + ": run `kb index`")
            for name, items in pending:
                lines += [f"  {name:8} {item}" for item in items]
        elif self.indexed and not self.damaged:
            lines.append("since indexing  no changes")
        for problem in self.problems:
            lines.append(f"problem         {problem.message}")
        lines += [f"damaged         {part}" for part in self.damaged]
        if self.damaged:
            lines.append("repair          run `kb index`: it rebuilds the index from the corpus and the embedding cache")
        return "\n".join(lines)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
