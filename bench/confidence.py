"""Calibrate and measure kb's weak-match signal (kb/confidence.py).

Positives are answered questions: the passage that answers one (when it is in the top 5) must not
be flagged weak. They come from the labeled set (eval/queries.yaml over the shipped corpus; odd
ids are its dev half) and NorQuAD (a BEIR folder; dev and test splits). Negatives are the junk
queries of eval/junk_queries.yaml: over the shipped corpus every group must be flagged weak; over
NorQuAD (Norwegian Wikipedia and news, which may well answer a football question) all groups but
`offtopic`.

The rule is fitted on the dev halves only (labeled dev, NorQuAD dev, junk over both indexes) and
reported on every split. Error (a): share of answered questions whose answering passage, in the top
5, is flagged weak. Error (b): share of junk queries not flagged.

    kb --kb SHIPPED index                      # a copy of corpus/ and eval/, real encoder
    kb eval --beir NORQUAD --split dev --workdir WD   # builds NorQuAD's knowledge base in WD
    python -m bench.confidence --shipped SHIPPED --norquad NORQUAD --workdir WD
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import yaml

from indexer.beir import read_qrels, read_queries
from kb.confidence import CALIBRATIONS, WEAK_BELOW, Calibration, QuerySignal, hit_confidence
from kb.evaluate import is_answer, load_query_set
from kb.knowledge_base import KnowledgeBase

TOP = 5
PARTS = ("labeled", "norquad-dev", "norquad-test")
HERE = Path(__file__).resolve().parent
JUNK = HERE.parent / "eval" / "junk_queries.yaml"
LABELED = HERE.parent / "eval" / "queries.yaml"
BARS = [round(0.70 + 0.0025 * i, 4) for i in range(161)]     # 0.70 .. 1.10
CREDITS = [round(0.005 * i, 3) for i in range(101)]            # 0 .. 0.5
MAX_FLAGGED = 0.05  # of a dev set's answered questions whose answer may be flagged weak
SPREAD = 0.03  # display scale of confidence around the bar; does not move the weak/not-weak line


@dataclass
class Case:
    """One query's signal and top hits: (dense, lexical, answers it) each."""

    set: str     # labeled-dev, norquad-test, junk-shipped, ...
    group: str   # language for positives, junk group for negatives
    query: str
    content_words: int
    coverage: float
    hits: list[tuple[Optional[float], Optional[float], bool]]

    @property
    def positive(self) -> bool:
        return not self.set.startswith("junk")

    @property
    def signal(self) -> QuerySignal:
        return QuerySignal(self.content_words, self.coverage)


def collect(kb: KnowledgeBase, set_name: str, queries: Iterable[tuple[str, str, object]]) -> list[Case]:
    """Search each (group, query, is-answering) and record what the confidence rule reads."""
    gen = kb.generation
    cases = []
    for group, query, answers in queries:
        result = kb.search(query, k=TOP)
        terms = gen.analyzer.terms(result.query)
        hits = [(h.dense_score, h.lexical_score, bool(answers and answers(h))) for h in result.hits]
        cases.append(Case(set_name, group, query, len(terms.words), gen.lexical_coverage(terms), hits))
    return cases


def labeled_cases(shipped: Path) -> list[Case]:
    kb = KnowledgeBase.open(shipped)
    qs = load_query_set(LABELED)
    cases = []
    for split in ("dev", "test"):
        chosen = [q for q in qs.queries if q.split == split]
        cases += collect(kb, f"labeled-{split}", (
            (q.lang, q.query, lambda h, by_doc=q.answers_by_doc: is_answer(h.text, by_doc.get(h.doc_id, ())))
            for q in chosen))
    cases += collect(kb, "junk-shipped", junk_queries())
    kb.close()
    return cases


def norquad_cases(beir_dir: Path, workdir: Path, split: str, limit: Optional[int]) -> list[Case]:
    """The first `limit` questions of the split's qrels (all without a limit); junk with the dev split."""
    kb = KnowledgeBase.open(workdir)
    origin = {d["doc_id"]: json.loads(d["meta_json"] or "{}").get("origin", "").split(":", 1)[-1] for d in kb.documents()}
    qrels = read_qrels(beir_dir / "qrels" / f"{split}.tsv")
    queries, ambiguous = read_queries(beir_dir / "queries.jsonl", split)
    chosen = [(qid, docs) for qid, docs in qrels.items() if qid not in ambiguous and qid in queries][:limit]
    cases = collect(kb, f"norquad-{split}", (
        ("nb", queries[qid], lambda h, rel=docs: origin.get(h.doc_id) in rel) for qid, docs in chosen))
    if split == "dev":
        cases += collect(kb, "junk-norquad", ((g, q, None) for g, q, _ in junk_queries() if g != "offtopic"))
    kb.close()
    return cases


def junk_queries() -> list[tuple[str, str, None]]:
    data = yaml.safe_load(JUNK.read_text(encoding="utf-8"))["queries"]
    return [(group, query, None) for group, queries in data.items() for query in queries]


# -- the rule and its errors --------------------------------------------------------------------
def flagged(case: Case, dense: Optional[float], lexical: Optional[float], calibration: Optional[Calibration]) -> bool:
    return hit_confidence(case.signal, dense, lexical, calibration) < WEAK_BELOW


def error(case: Case, calibration: Optional[Calibration]) -> Optional[bool]:
    """Whether the rule errs on this case; None for an answered question whose answer is not in the top 5."""
    if case.positive:
        answering = [(d, lex) for d, lex, answers in case.hits if answers]
        if not answering:
            return None
        return flagged(case, *answering[0], calibration)
    return not all(flagged(case, d, lex, calibration) for d, lex, _ in case.hits)


def rate(cases: list[Case], calibration: Optional[Calibration]) -> tuple[float, int]:
    errs = [e for e in (error(c, calibration) for c in cases) if e is not None]
    return (sum(errs) / len(errs) if errs else 0.0), len(errs)


def fit(cases: list[Case]) -> tuple[Calibration, float]:
    """The bar and coverage credit that let the least junk through while flagging at most
    `MAX_FLAGGED` of each dev set's answers; ties go to fewer flagged answers, then the lower bar.
    Returns it and the junk share it lets through."""
    positives = [_columns([c for c in cases if c.set == name and error(c, None) is not None], answering=True)
                 for name in ("labeled-dev", "norquad-dev")]
    negatives = _columns([c for c in cases if not c.positive], answering=False)
    bars, credits = np.array(BARS)[:, None, None], np.array(CREDITS)[None, :, None]

    def weak(cols):
        cosine, coverage, no_words = cols
        return no_words | (cosine < bars - credits * coverage)  # (bar, credit, case)

    flagged_answers = np.stack([weak(p).mean(axis=2) for p in positives])  # (set, bar, credit)
    let_through = (~weak(negatives)).mean(axis=2)
    worst = flagged_answers.max(axis=0)
    key = np.where(worst <= MAX_FLAGGED, let_through, np.inf) * 1e6 + worst * 1e3 + bars[:, :, 0]
    i, j = np.unravel_index(np.argmin(key), key.shape)
    return Calibration(bar=BARS[i], coverage_credit=CREDITS[j], spread=SPREAD), float(let_through[i, j])


def _columns(cases: list[Case], answering: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per case: the cosine the rule reads (the first answering hit's, or the best hit's for junk),
    the coverage and whether the query has no content words."""
    def cosine(c: Case) -> float:
        scores = [d for d, _, answers in c.hits if d is not None and (answers or not answering)]
        return scores[0] if answering else max(scores, default=-1.0)
    return (np.array([cosine(c) for c in cases]), np.array([c.coverage for c in cases]),
            np.array([c.content_words == 0 for c in cases]))


# -- the report ---------------------------------------------------------------------------------
def table(cases: list[Case], rules: dict[str, Optional[Calibration]]) -> list[str]:
    names = list(dict.fromkeys(c.set for c in cases))
    lines = ["| set | error | n | " + " | ".join(rules) + " |", "|---|---|---:|" + "---:|" * len(rules)]
    for name in names:
        chosen = [c for c in cases if c.set == name]
        kind = "(a) answer flagged weak" if chosen[0].positive else "(b) junk not flagged"
        n = rate(chosen, None)[1]
        cells = [f"{rate(chosen, rule)[0]:.1%}" for rule in rules.values()]
        lines.append(f"| {name} | {kind} | {n} | " + " | ".join(cells) + " |")
        if not chosen[0].positive:
            for group in dict.fromkeys(c.group for c in chosen):
                sub = [c for c in chosen if c.group == group]
                cells = [f"{rate(sub, rule)[0]:.1%}" for rule in rules.values()]
                lines.append(f"| &nbsp;&nbsp;{group} | | {len(sub)} | " + " | ".join(cells) + " |")
    return lines


def report(cases: list[Case], model: str, fitted: Calibration, let_through: float, limit: Optional[int]) -> str:
    shipped = CALIBRATIONS.get(model)
    rules = {"shipped rule": shipped, "fitted now": fitted, "fallback (coverage only)": None}
    missed = list(dict.fromkeys(f"`{c.query}` ({c.set.removeprefix('junk-')})" for c in cases if c.set.startswith("junk") and error(c, shipped)))
    flagged_answers = [c for c in cases if c.positive and error(c, shipped)]
    lines = [
        "# Weak-match confidence: calibration and error rates",
        "",
        f"Encoder `{model}`. Written by `python -m bench.confidence` (see its docstring); rule in kb/confidence.py. "
        f"Top {TOP} hybrid hits per query. NorQuAD: " + (f"the first {limit} questions of each split." if limit else "every question."),
        "",
        f"Fitted on the dev halves (labeled dev, NorQuAD dev, junk; at most {MAX_FLAGGED:.0%} of each dev set's "
        f"answers flagged, then the least junk let through): bar {fitted.bar}, coverage credit "
        f"{fitted.coverage_credit} ({let_through:.1%} of junk let through). Shipped: "
        + (f"bar {shipped.bar}, coverage credit {shipped.coverage_credit}, spread {shipped.spread}." if shipped else "none (fallback)."),
        "",
        "A hit is weak when the query has no content words, or its dense cosine is under "
        "`bar - coverage_credit * coverage`. (a) counts answered questions whose answering passage is in the top 5 "
        "(n); (b) counts junk queries of which any top-5 hit is not flagged. The fallback is what an encoder "
        "without a fitted bar, and the lexical mode, get.",
        "",
        *table(cases, rules),
        "",
        f"Junk the shipped rule lets through ({len(missed)}): " + ("; ".join(missed) or "none"),
        "",
        f"Answered questions it flags weak ({len(flagged_answers)}): "
        + ("; ".join(f"`{c.query}` ({c.set})" for c in flagged_answers[:15]) or "none")
        + (" …" if len(flagged_answers) > 15 else ""),
        "",
    ]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipped", type=Path, required=True, help="an indexed copy of the shipped corpus (real encoder)")
    parser.add_argument("--norquad", type=Path, required=True, help="the NorQuAD BEIR folder")
    parser.add_argument("--workdir", type=Path, required=True, help="its knowledge base, built by kb eval --beir --workdir")
    parser.add_argument("--limit", type=int, default=None, help="NorQuAD: the first N questions of each split (default all)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"collect only these of {', '.join(PARTS)} (to run them side by side)")
    parser.add_argument("--features", type=Path, default=HERE / "out",
                        help="folder where the collected signals are kept, one file per part; reused when present")
    parser.add_argument("--out", type=Path, default=HERE / "confidence_report.md")
    args = parser.parse_args(argv)
    collectors = {
        "labeled": lambda: labeled_cases(args.shipped),
        "norquad-dev": lambda: norquad_cases(args.norquad, args.workdir, "dev", args.limit),
        "norquad-test": lambda: norquad_cases(args.norquad, args.workdir, "test", args.limit),
    }
    model, cases = KnowledgeBase.open(args.shipped).model_name, []
    args.features.mkdir(parents=True, exist_ok=True)
    for part in args.parts.split(","):
        saved = args.features / f"confidence-{part}.json"
        if not saved.exists():
            found = collectors[part]()
            saved.write_text(json.dumps({"model": model, "cases": [c.__dict__ for c in found]}, ensure_ascii=False), encoding="utf-8")
    for part in PARTS:
        saved = args.features / f"confidence-{part}.json"
        if not saved.exists():
            print(f"{saved}: not collected yet")
            return
        cases += [Case(**c) for c in json.loads(saved.read_text(encoding="utf-8"))["cases"]]
    fitted, let_through = fit([c for c in cases if c.set.endswith("dev") or c.set.startswith("junk")])
    text = report(cases, model, fitted, let_through, args.limit)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
