"""Random input through the `kb` command line: no input may end in a traceback.

    python -m bench.fuzz --examples 5000 [--seed N] [--kb DIR]

Indexes the shipped corpus in a temporary folder (or uses --kb DIR, read only), then feeds the
CLI random questions and option values (top-k, lang, mode, format, doc, kind, context, stray
tokens, --kb before or after the command), handout plans and query sets (random bytes, random
YAML, and well-formed ones with random fields), in-process through click's CliRunner. Every
input must end with exit code 0, 1 or 2, at most one line on stderr, no traceback, and UTF-8
output (JSON that parses); the index must still open and answer afterwards. Prints how many
inputs were tried, how they ended, and every failure with its input.

tests/test_fuzz_cli.py runs the same checks on a few dozen inputs in the test suite.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.vocabulary import KINDS, LANGUAGE_FILTERS, MODES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORDS = ("tillid", "borgere", "samskabelse", "frivillige", "kommune", "samskaping", "trust", "§ 17", "2024")


@dataclass
class Case:
    """One command line, and the files it names (written before it runs)."""

    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    kb_after: bool = False  # --kb DIR after the command's own arguments

    def __str__(self) -> str:
        files = "".join(f"\n    {name}: {content[:300]!r}" for name, content in self.files.items())
        return f"kb {' '.join(repr(a) for a in self.argv)}{' (--kb last)' if self.kb_after else ''}{files}"


@dataclass(frozen=True)
class Known:
    """What the knowledge base holds, so that some random input is also valid input."""

    doc_ids: tuple[str, ...]
    chunk_ids: tuple[str, ...]
    excerpts: tuple[tuple[str, str], ...]  # (doc id, a few words of one of its passages)


def known_in(root: Path) -> Known:
    from kb import KnowledgeBase

    kb = KnowledgeBase.open(root)
    index = kb.generation
    passages = index.document_passages([d.doc_id for d in index.documents()])  # in row order
    rows = [(p.chunk.chunk_id, p.chunk.doc_id, p.chunk.text) for p in passages]
    kb.close()
    return Known(
        doc_ids=tuple(sorted({doc for _, doc, _ in rows})),
        chunk_ids=tuple(chunk for chunk, _, _ in rows),
        excerpts=tuple((doc, " ".join(text.split()[:8])) for _, doc, text in rows),
    )


# -- strategies ---------------------------------------------------------------------------------------
ANY_CHAR = st.characters(codec=None, categories=None, exclude_categories=())  # surrogates and controls too
ANY_TEXT = st.text(ANY_CHAR, max_size=40)


def odd(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly valid values, often not."""
    return st.one_of(valid, valid, ANY_TEXT, st.integers(-3, 500).map(str), st.sampled_from(["", " ", "-", "--", "-1"]))


def queries() -> st.SearchStrategy[str]:
    words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
    return st.one_of(
        words, words, ANY_TEXT, st.text(ANY_CHAR, min_size=1, max_size=400),
        st.sampled_from(["?!", "   ", "\t\n", "\x1b[2J", "\ud800 tillid", "tillid\x00", "-k", "--", "é" * 2001]),
        st.tuples(words, ANY_TEXT).map(" ".join),
    )


def options(known: Known) -> st.SearchStrategy[list[str]]:
    one = st.one_of(
        st.tuples(st.sampled_from(["-k", "--top-k"]), odd(st.integers(1, 200).map(str))),
        st.tuples(st.just("--lang"), odd(st.sampled_from(LANGUAGE_FILTERS))),
        st.tuples(st.just("--mode"), odd(st.sampled_from(MODES))),
        st.tuples(st.just("--format"), odd(st.sampled_from(["text", "json", "md"]))),
        st.tuples(st.just("--kind"), odd(st.sampled_from(KINDS))),
        st.tuples(st.just("--doc"), odd(st.sampled_from(known.doc_ids))),
        st.tuples(st.just("--json")),
        st.tuples(st.text(ANY_CHAR, max_size=8)),  # a stray token
    )
    return st.lists(one, max_size=5).map(lambda pairs: [token for pair in pairs for token in pair])


def yaml_values() -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                        ANY_TEXT, st.sampled_from(["NO", "yes", "off", "2021-02-30", "~", "0x1f"]))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(ANY_TEXT, inner, max_size=3)), max_leaves=8)


def _dump(data: object) -> bytes:
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:  # a value YAML cannot represent: write its repr instead
        text = repr(data)
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate makes the file invalid UTF-8, also a case


def yaml_files(shaped: st.SearchStrategy) -> st.SearchStrategy[bytes]:
    """Random bytes, random YAML, and documents of the right shape with random fields."""
    return st.one_of(st.binary(max_size=200), st.text(ANY_CHAR, max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
                     yaml_values().map(_dump), shaped.map(_dump), shaped.map(_dump), shaped.map(_dump))


def plans(known: Known, valid: bool = False) -> st.SearchStrategy[dict]:
    """Handout plans with random fields, or (valid=True) with fields as a plan takes them."""
    pick = (lambda strategy: strategy) if valid else odd
    anything = st.nothing() if valid else yaml_values()
    question_lists = st.one_of(st.lists(queries(), min_size=1, max_size=3), anything)
    theme = st.fixed_dictionaries(
        {"title": pick(st.sampled_from(["Tillid", "Frivillige"])), "questions": question_lists},
        optional={"passages": pick(st.integers(1, 20)), "lang": pick(st.sampled_from(LANGUAGE_FILTERS)),
                  "kind": pick(st.sampled_from(KINDS)),
                  "documents": st.lists(pick(st.sampled_from(known.doc_ids)), min_size=1, max_size=3),
                  **({} if valid else {"extra": yaml_values()})})
    return st.fixed_dictionaries(
        {"title": pick(st.just("Kursus")), "audience": pick(st.just("medarbejdere")),
         "themes": st.one_of(st.lists(theme, min_size=1, max_size=3), anything)},
        optional={"intro": st.text(max_size=80) if valid else yaml_values(),
                  "language": pick(st.sampled_from(["da", "nb", "en"])), **({} if valid else {"tema": yaml_values()})})


def query_sets(known: Known, valid: bool = False) -> st.SearchStrategy[dict]:
    """Query sets with random fields, or (valid=True) with labels the knowledge base can score."""
    pick = (lambda strategy: strategy) if valid else odd
    anything = st.nothing() if valid else yaml_values()

    def labeled(excerpt: tuple[str, str]) -> st.SearchStrategy[dict]:
        doc, words = excerpt
        return st.fixed_dictionaries(
            {"id": pick(st.sampled_from(["q1", "q2", "q3"])), "lang": pick(st.sampled_from(["da", "nb", "en"])),
             "query": pick(queries()), "doc": pick(st.just(doc)), "answers": st.one_of(st.just([words]), anything)},
            optional={"split": pick(st.sampled_from(["dev", "test"])), **({} if valid else {"also": yaml_values()})})

    one = st.sampled_from(known.excerpts).flatmap(labeled)
    return st.fixed_dictionaries({"queries": st.one_of(st.lists(one, min_size=1, max_size=3), anything)})


def cases(known: Known) -> st.SearchStrategy[Case]:
    kb_after = st.booleans()
    search = st.builds(lambda q, opts, after: Case(["search", q, *opts], kb_after=after), queries(), options(known), kb_after)
    show = st.builds(
        lambda chunk, context, after: Case(["show", chunk, *context], kb_after=after),
        odd(st.sampled_from(known.chunk_ids)), st.one_of(st.just([]), st.tuples(st.just("--context"), odd(st.integers(0, 10).map(str))).map(list)),
        kb_after)
    handout = st.builds(
        lambda plan, fmt, out, after: Case(["handout", "plan.yaml", *fmt, *out], {"plan.yaml": plan}, after),
        yaml_files(st.one_of(plans(known), plans(known, valid=True))), st.one_of(st.just([]), st.tuples(st.just("--format"), odd(st.sampled_from(["md", "html"]))).map(list)),
        st.sampled_from([[], [], [], ["-o", "handout.out"], ["-o", "plan.yaml"], ["-o", "."], ["-o", ""]]), kb_after)
    evaluate = st.builds(
        lambda qs, mode, after: Case(["eval", "queries.yaml", "--json", *mode], {"queries.yaml": qs}, after),
        yaml_files(st.one_of(query_sets(known), query_sets(known, valid=True))), st.one_of(st.just([]), st.tuples(st.just("--mode"), odd(st.sampled_from(MODES))).map(list)),
        kb_after)
    return st.one_of(search, search, search, show, handout, handout, evaluate)


# -- the checks -----------------------------------------------------------------------------------------
def run_case(root: Path, work: Path, case: Case):
    """Run one case in-process, in `work`; the files it names are written there first."""
    from click.testing import CliRunner

    from search_cli.app import cli

    for name, content in case.files.items():
        (work / name).write_bytes(content)
    kb = ["--kb", str(root)]
    argv = [*case.argv, *kb] if case.kb_after and case.argv[-1:] != ["--"] else [*kb, *case.argv]
    cwd = os.getcwd()
    os.chdir(work)  # plan.yaml, handout.out: relative to here
    try:
        return CliRunner().invoke(cli, argv, catch_exceptions=True)
    finally:
        os.chdir(cwd)


def problems(result) -> list[str]:
    """What is wrong with how a command ended; nothing for any input is the goal."""
    found = []
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        found.append(f"unhandled {type(exc).__name__}: {exc}")
    if result.exit_code not in (0, 1, 2):
        found.append(f"exit code {result.exit_code}")
    try:
        out, err = result.stdout_bytes.decode("utf-8"), result.stderr_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        return found + [f"output is not UTF-8: {error}"]
    if "Traceback" in out + err:
        found.append("a traceback")
    lines = [line for line in err.splitlines() if line.strip()]
    if len(lines) > 1:
        found.append(f"{len(lines)} lines on stderr: {err[:300]!r}")
    if result.exit_code == 0 and out.lstrip().startswith("{"):
        try:
            json.loads(out)
        except ValueError as error:
            found.append(f"JSON that does not parse: {error}")
    return found


def index_answers(root: Path) -> list[str]:
    """The index still opens and answers a plain question with the passage it should."""
    from kb import KnowledgeBase

    try:
        kb = KnowledgeBase.open(root)
        hits = kb.search("hvordan bygger vi tillid til borgerne", k=3).hits
        kb.close()
    except Exception as exc:  # noqa: BLE001 - any failure here is the finding
        return [f"the index no longer answers: {type(exc).__name__}: {exc}"]
    return [] if hits else ["the index answers nothing"]


FUZZ_SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), database=None)


# -- the long run -------------------------------------------------------------------------------------
def _indexed_shipped_corpus(folder: Path) -> Path:
    from click.testing import CliRunner

    from search_cli.app import cli

    root = folder / "kb"
    shutil.copytree(REPO / "corpus", root / "corpus")
    result = CliRunner().invoke(cli, ["--kb", str(root), "index"])
    if result.exit_code != 0:
        raise SystemExit(f"indexing the shipped corpus failed: {result.output}")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="inputs to try (default 1000)")
    parser.add_argument("--seed", type=int, default=None, help="for a run that can be repeated")
    parser.add_argument("--kb", type=Path, help="an indexed knowledge base to use (read only); default: the shipped corpus")
    parser.add_argument("--check-every", type=int, default=200, help="inputs between checks that the index answers")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kb-fuzz-") as tmp:
        work = Path(tmp)
        root = args.kb.resolve() if args.kb else _indexed_shipped_corpus(work)
        known = known_in(root)
        (work / "cwd").mkdir()
        endings: collections.Counter = collections.Counter()
        failures: list[tuple[Case, list[str]]] = []
        tried = 0
        started = time.perf_counter()

        @settings(max_examples=args.examples, **FUZZ_SETTINGS)
        @given(cases(known))
        def explore(case: Case) -> None:
            nonlocal tried
            result = run_case(root, work / "cwd", case)
            tried += 1
            found = problems(result)
            endings[(case.argv[0], result.exit_code)] += 1
            if found:
                failures.append((case, found))
            if tried % args.check_every == 0:
                if broken := index_answers(root):
                    failures.append((case, broken))
                print(f"{tried} inputs, {len(failures)} failures, {time.perf_counter() - started:.0f} s", file=sys.stderr)

        if args.seed is not None:
            explore = seed(args.seed)(explore)
        explore()
        final = index_answers(root)
        seconds = time.perf_counter() - started

    print(f"inputs tried: {tried} in {seconds:.0f} s")
    for command in sorted({command for command, _ in endings}):
        counts = ", ".join(f"exit {code}: {endings[(command, code)]}" for code in sorted(c for k, c in endings if k == command))
        print(f"  {command:8} {counts}")
    print(f"failures: {len(failures)}" + ("" if final else "; the index opens and answers afterwards"))
    for case, found in failures[:50]:
        print(f"- {case}\n    => " + "; ".join(found))
    for problem in final:
        print(f"- after the run: {problem}")
    return 1 if failures or final else 0


if __name__ == "__main__":
    sys.exit(main())
