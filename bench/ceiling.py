"""How far fusion can go with the retrievers a knowledge base has: the labeled set at the
configured lexical weight, at the best single weight per language, and at the best weight
for each question chosen knowing its answer (a ceiling no fusion of these two signals passes).

    python -m bench.ceiling [--kb DIR] [--queries eval/queries.yaml] [--json]

Run it after changing the encoder, the analyzer or the glossary: if the ceiling is below a
target, tuning the fusion cannot reach it and a better signal is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb import retrieve  # noqa: E402
from kb.errors import KBError  # noqa: E402
from kb.evaluate import K, aggregate, answering_rows, load_query_set  # noqa: E402
from kb.knowledge_base import KnowledgeBase  # noqa: E402

WEIGHTS = np.round(np.linspace(0.0, 1.0, 21), 2)


def relevance_at(weight: float, found: retrieve.Candidates, answering: np.ndarray) -> list[bool]:
    order = np.argsort(-retrieve.fuse(found, weight), kind="stable")[:K]
    return answering[order].tolist()


def measure(kb: KnowledgeBase, queries_file: Path) -> dict:
    query_set = load_query_set(queries_file)
    gen = kb.generation
    answers = answering_rows(kb, query_set.queries, query_set._source)
    settings = kb.config.search
    # per language: [(relevance, relevant count)] at the configured weight, per fixed weight, per question's best
    configured, fixed, oracle = defaultdict(list), defaultdict(lambda: defaultdict(list)), defaultdict(list)
    for q in query_set.queries:
        found = retrieve.candidates(gen, q.query, settings.candidates, None, kb.query_vector)
        answering = np.isin(found.rows, list(answers[q.id]))
        total = len(answers[q.id])
        at = {w: relevance_at(w, found, answering) for w in WEIGHTS}
        best = min(at.values(), key=lambda rel: (rel.index(True) if True in rel else K, -sum(rel)))
        chosen = relevance_at(retrieve.lexical_weight(found.coverage, settings.lexical_weight), found, answering)
        for lang in (q.lang, "all"):
            configured[lang].append((chosen, total))
            oracle[lang].append((best, total))
            for w, rel in at.items():
                fixed[lang][w].append((rel, total))
    report = {}
    for lang in sorted(configured, key=lambda x: (x != "all", x)):
        best_w = max(WEIGHTS, key=lambda w: aggregate(fixed[lang][w]).mrr_at_10)
        report[lang] = {
            "configured": aggregate(configured[lang]).model_dump(),
            "best_fixed_weight": float(best_w),
            "best_fixed": aggregate(fixed[lang][best_w]).model_dump(),
            "per_question_best": aggregate(oracle[lang]).model_dump(),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default=None, help="knowledge base folder (default: the current one)")
    parser.add_argument("--queries", default="eval/queries.yaml", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        kb = KnowledgeBase.open(args.kb)
        report = measure(kb, args.queries)
    except KBError as exc:
        sys.exit(f"bench.ceiling: error: {exc}")
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print("hybrid, hit@5 / MRR@10: at the configured lexical weight (coverage-scaled), at the best fixed")
    print("weight per language, and at the best weight per question chosen knowing its answer")
    print(f"{'':6}{'configured':>16}{'best fixed (w)':>22}{'per question':>16}")
    for lang, row in report.items():
        c, f, o = row["configured"], row["best_fixed"], row["per_question_best"]
        fixed_cell = f"{f['hit_at_5']:.3f} / {f['mrr_at_10']:.3f} ({row['best_fixed_weight']:.2f})"
        print(f"{lang:6}{c['hit_at_5']:>8.3f} / {c['mrr_at_10']:.3f}{fixed_cell:>22}{o['hit_at_5']:>8.3f} / {o['mrr_at_10']:.3f}")


if __name__ == "__main__":
    main()
