"""Fuzzing corpus files: random bytes, YAML front matter and sidecars through `kb add`,
`kb validate` and `kb index`, checking the promise kb makes about bad input.

    python -m bench.fuzz_files --examples 2000 [--seed N] [--show 5]

Each example is a fresh knowledge base (fake encoder, two good documents) plus one to four
generated files: some offered to `kb add` (with or without --kind/--lang), some put straight
into the corpus. Files are random bytes, or text (UTF-8, UTF-16, Latin-1, lone surrogates) with
front matter or a sidecar that is valid metadata with random fields dropped or replaced, or
YAML that is hostile (aliases, tags, several documents, unhashable keys). Names are random
too: spaces, æøå, README, `_`/`.` prefixes, 250 characters, every suffix kb reads and some it
does not. What must hold (`contract_violations`):

- every command exits 0, 1 or 2, without a traceback;
- `kb add`: one line per file given, the document on stdout or `kb: not added: …` on stderr;
- `kb validate`: one line per problem, as many as its summary counts, exit 1 exactly when any;
- `kb index`: one `kb: skipped …` line per file it could not index, and documents indexed plus
  files skipped is the number of files in the corpus;
- afterwards the index opens and `kb search … --json` answers with the good documents.

The test suite runs a few examples of the same (tests/test_fuzz_files.py); this command runs
many and prints how many inputs were tried and every one that broke the contract.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml
from hypothesis import strategies as st

KINDS = ("guidance", "manifesto", "course-offer", "slides", "case", "report", "article", "other")
LANGS = ("da", "nb", "en")
SUFFIXES = (".md", ".txt", ".md", ".txt", ".MD", ".html", ".pdf", ".docx", ".htm", ".xyz", "")
META_FIELDS = ("id", "title", "language", "kind", "author", "publisher", "date", "origin", "source_file",
               "tags", "municipality", "country", "year", "policy_area", "participants", "summary")
GOOD_DOCS = {
    "tillid.md": "---\nid: tillid-i-praksis\ntitle: Tillid i praksis\nlanguage: da\nkind: guidance\n---\n# Tillid\n\n"
                 "Borgerne er ofte skeptiske, når kommunen inviterer til samarbejde om nye løsninger. Derfor begynder "
                 "samskabelse med tillidsopbygning: ærlig dialog om, hvem der bestemmer hvad, og en kommune der holder, "
                 "hvad den lover, også når processen bliver svær undervejs.\n",
    "frivillige.md": "---\nid: frivillige-partnere\ntitle: Frivillige som partnere\nlanguage: nb\nkind: slides\n---\n"
                     "# Frivillighet\n\nFrivillige organisasjoner er viktige partnere for kommunen. De kjenner lokalmiljøet "
                     "og når innbyggere som kommunen selv ikke når, og tilbudene blir bedre og mer varige for alle.\n",
}
QUERY = "skeptiske borgere tillid frivillige"
PARAGRAPHS = (
    "Kommunen har brug for nogle nye måder at arbejde sammen med borgerne på. Efter mange år med høringer vil vi nu "
    "inddrage foreningerne tidligt.",
    "Kommunen trenger noen nye måter å arbeide sammen med innbyggerne på. Hva krever det av de ansatte?",
    "The municipality needs new ways of working with the citizens, and this is what it takes.",
    "# Overskrift\n\n- punkt et\n- punkt to\n\nTrin 1: Lyt til borgerne",
    "\x1b[2J\x1b[31mrødt\x07\x00 NUL",
    "<html><body><nav><a href='/'>Forside</a></nav><main><p>Borgerne i Odense mødes hver måned og taler om "
    "byens udvikling med politikerne og forvaltningen.</p></main></body></html>",
)
HOSTILE_YAML = (
    "a: &x [1, 2]\nb: *x\nid: *x", "id: !!python/object/apply:os.system ['true']", "--- a\n--- b",
    "? [a, b]\n: c", "id: !!binary '###'", "year: !!int abc", "date: 2021-02-30", "date: 2024-13-45",
    "title: !!float x", "%YAML 1.1\n---\nid: x", "kind: case\ncountry: NO\nyear: 1e400", "[1, 2, 3]", "just text",
    "id: a\nid: b", "tags: {a: b}", "title: '''", "\t- tab", "id: ~", "language: NO\nkind: yes",
)
ENCODINGS = ("utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "surrogates")
TRACEBACK = "Traceback"
ADD_LINES = ("kb: not added: ", "added ", "kb: waiting ")
INDEX_LINES = ("kb: skipped ", "added ", "embedding:", "writing index:", "kb: the corpus has no documents")


@dataclass
class FileSpec:
    name: str
    data: bytes
    sidecar: Optional[bytes]
    into: str  # "add": offered to `kb add`; "corpus": written into corpus/documents


@dataclass
class Example:
    files: list[FileSpec]
    kind: Optional[str]
    lang: Optional[str]

    def describe(self) -> str:
        parts = [f"kind={self.kind} lang={self.lang}"]
        for spec in self.files:
            sidecar = f" sidecar={spec.sidecar[:120]!r}" if spec.sidecar is not None else ""
            parts.append(f"  {spec.into}: {spec.name!r} {spec.data[:160]!r}{sidecar}")
        return "\n".join(parts)


@dataclass
class Outcome:
    violations: list[str] = field(default_factory=list)
    commands: int = 0


# -- strategies -----------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.dates(), st.text(max_size=30),
    st.sampled_from(["NO", "yes", "off", "2024-05-01", "2024", "1e3", "0o17", "da", "nb", "en", "case", "guidance",
                     "Bad ID!", "a" * 300, "tillid-i-praksis", "", " ", "\x1b[31m"]),
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                       max_leaves=6)


@st.composite
def metadata(draw) -> dict:
    """Valid metadata with a few fields dropped or replaced by anything."""
    meta: dict = {
        "id": draw(st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}", fullmatch=True)),
        "title": draw(st.text(min_size=1, max_size=40)),
        "language": draw(st.sampled_from(LANGS)),
        "kind": draw(st.sampled_from(KINDS)),
    }
    for key in draw(st.lists(st.sampled_from(META_FIELDS + ("extra",)), max_size=3)):
        if draw(st.booleans()):
            meta.pop(key, None)
        else:
            meta[key] = draw(_values)
    return meta


def _dump(meta: dict) -> str:
    try:
        return yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return "id: x\n"


yaml_texts = st.one_of(metadata().map(_dump), metadata().map(_dump), st.sampled_from(HOSTILE_YAML), st.text(max_size=120))
bodies = st.one_of(
    st.sampled_from(PARAGRAPHS), st.text(max_size=300),
    st.lists(st.sampled_from(PARAGRAPHS), min_size=1, max_size=4).map("\n\n".join),
    st.just(""), st.just("   \n\t\n"),
)


def encode(text: str, encoding: str) -> bytes:
    if encoding == "surrogates":
        return (text + "\ud800").encode("utf-8", "surrogatepass")
    if encoding == "latin-1":
        return text.encode("latin-1", "replace")
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf-8") else "replace")


@st.composite
def file_specs(draw, name: str) -> FileSpec:
    shape = draw(st.sampled_from(("front matter", "front matter", "sidecar", "sidecar", "bytes", "plain")))
    encoding = draw(st.sampled_from(ENCODINGS))
    sidecar = None
    if shape == "bytes":
        data = draw(st.binary(max_size=400))
    elif shape == "front matter":
        data = encode(f"---\n{draw(yaml_texts)}\n---\n{draw(bodies)}", encoding)
    else:
        data = encode(draw(bodies), encoding)
        if shape == "sidecar":
            sidecar = encode(draw(yaml_texts), draw(st.sampled_from(ENCODINGS)))
    return FileSpec(name=name, data=data, sidecar=sidecar, into=draw(st.sampled_from(("add", "add", "corpus"))))


names = st.builds(
    lambda prefix, stem, suffix: f"{prefix}{stem}{suffix}",
    st.sampled_from(("", "", "", "", "_", ".", "README-")),
    st.one_of(st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøåABC0123456789 -_.", min_size=1, max_size=24),
              st.just("n" * 246)),
    st.sampled_from(SUFFIXES),
)


@st.composite
def examples(draw) -> Example:
    chosen = draw(st.lists(names, min_size=1, max_size=4, unique_by=lambda n: n.lower()))
    files = [draw(file_specs(name)) for name in chosen if name.strip(". ") and "/" not in name]
    if not files:
        files = [draw(file_specs("note.md"))]
    return Example(files=files, kind=draw(st.sampled_from((None,) + KINDS)), lang=draw(st.sampled_from((None,) + LANGS)))


# -- running one example ------------------------------------------------------------------------------

def _write(path: Path, data: bytes) -> bool:
    """A new file; False when the name is taken (names differing in case on some file systems)
    or refused (too long, with the sidecar suffix)."""
    try:
        with open(path, "xb") as handle:
            handle.write(data)
        return True
    except OSError:
        return False


def _invoke(args: list[str], outcome: Outcome, label: str):
    from click.testing import CliRunner

    from search_cli.app import cli

    outcome.commands += 1
    result = CliRunner().invoke(cli, args, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        outcome.violations.append(f"{label}: unhandled {type(result.exception).__name__}: {result.exception}")
    if TRACEBACK in result.output:
        outcome.violations.append(f"{label}: traceback in the output")
    if result.exit_code not in (0, 1, 2):
        outcome.violations.append(f"{label}: exit code {result.exit_code}")
    return result


def _stray_lines(lines: list[str], allowed: tuple[str, ...]) -> list[str]:
    return [line for line in lines if not line.startswith(allowed)]


def run_example(example: Example) -> Outcome:
    """Every command of the example in a fresh knowledge base; the violations of the contract."""
    from indexer.load import discover

    outcome = Outcome()
    with tempfile.TemporaryDirectory(prefix="kb-fuzz-") as tmp:
        root = Path(tmp) / "kb"
        documents = root / "corpus" / "documents"
        documents.mkdir(parents=True)
        (root / "kb.toml").write_text('[embedder]\nbackend = "fake"\n', encoding="utf-8")
        for name, text in GOOD_DOCS.items():
            (documents / name).write_text(text, encoding="utf-8")
        incoming = Path(tmp) / "incoming"
        incoming.mkdir()
        offered = []
        for spec in example.files:
            folder = incoming if spec.into == "add" else documents
            if not _write(folder / spec.name, spec.data):
                continue
            if spec.sidecar is not None:
                _write(folder / f"{Path(spec.name).stem}.meta.yaml", spec.sidecar)
            if spec.into == "add":
                offered.append(str(folder / spec.name))
        base = ["--kb", str(root)]

        if offered:
            options = [*(["--kind", example.kind] if example.kind else []), *(["--lang", example.lang] if example.lang else [])]
            added = _invoke([*base, "add", *offered, *options], outcome, "kb add")
            _check_add(added, len(offered), outcome)

        checked = _invoke([*base, "validate"], outcome, "kb validate")
        _check_validate(checked, outcome)

        corpus_files = len(discover(root / "corpus"))
        indexed = _invoke([*base, "index"], outcome, "kb index")
        _check_index(indexed, corpus_files, outcome)

        found = _invoke([*base, "search", QUERY, "--json", "-k", "50"], outcome, "kb search")
        if found.exit_code != 0:
            outcome.violations.append(f"kb search after indexing: exit {found.exit_code}: {found.output.strip()[:300]}")
        else:
            ids = {hit["doc_id"] for hit in json.loads(found.stdout)["results"]}
            if not {"tillid-i-praksis", "frivillige-partnere"} & ids:
                outcome.violations.append(f"kb search after indexing: the good documents are not found ({sorted(ids)})")
    return outcome


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _check_add(result, offered: int, outcome: Outcome) -> None:
    errors, out = _lines(result.stderr), _lines(result.stdout)
    if result.exit_code == 2:
        if len(errors) != 1 or not errors[0].startswith("kb: error: ") or out:
            outcome.violations.append(f"kb add: a usage error must be one `kb: error:` line, got {errors + out}")
        return
    stray = _stray_lines(errors, ADD_LINES)
    if stray:
        outcome.violations.append(f"kb add: stderr lines that are not one line per file: {stray[:3]}")
    problems = [line for line in errors if line.startswith("kb: not added: ")]
    if len(problems) + len(out) != offered:
        outcome.violations.append(f"kb add: {offered} files given, {len(out)} added and {len(problems)} refused lines")
    if result.exit_code != (1 if problems else 0):
        outcome.violations.append(f"kb add: exit {result.exit_code} with {len(problems)} refused")


_VALIDATE_SUMMARY = re.compile(r"^(\d+) files checked, (\d+) problems$")


def _check_validate(result, outcome: Outcome) -> None:
    lines = _lines(result.stdout)
    summary = _VALIDATE_SUMMARY.match(lines[-1]) if lines else None
    if summary is None:
        outcome.violations.append(f"kb validate: no summary line, got {lines[-3:]} / {result.stderr.strip()[:300]}")
        return
    problems = int(summary.group(2))
    if len(lines) - 1 != problems:
        outcome.violations.append(f"kb validate: {problems} problems counted, {len(lines) - 1} lines printed")
    if result.exit_code != (1 if problems else 0):
        outcome.violations.append(f"kb validate: exit {result.exit_code} with {problems} problems")
    if result.stderr.strip():
        outcome.violations.append(f"kb validate: stderr {result.stderr.strip()[:300]!r}")


_INDEX_SUMMARY = re.compile(r"· (\d+) documents, (\d+) passages")


def _check_index(result, corpus_files: int, outcome: Outcome) -> None:
    errors = _lines(result.stderr)
    stray = _stray_lines(errors, INDEX_LINES)
    if stray:
        outcome.violations.append(f"kb index: stderr lines that are not one line per file: {stray[:3]}")
    summary = _INDEX_SUMMARY.search(result.stderr)
    if summary is None:
        outcome.violations.append(f"kb index: no summary, exit {result.exit_code}: {errors[-3:]}")
        return
    skipped = sum(line.startswith("kb: skipped ") for line in errors)
    if int(summary.group(1)) + skipped != corpus_files:
        outcome.violations.append(f"kb index: {corpus_files} corpus files, {summary.group(1)} indexed and {skipped} skipped")
    if result.exit_code != (1 if skipped else 0):
        outcome.violations.append(f"kb index: exit {result.exit_code} with {skipped} skipped")


# -- the command ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="inputs to try (default 200)")
    parser.add_argument("--seed", type=int, default=None, help="seed, to repeat a run")
    parser.add_argument("--show", type=int, default=5, help="failures to print in full")
    args = parser.parse_args(argv)

    from hypothesis import HealthCheck, given, seed, settings

    failures: list[tuple[Example, Outcome]] = []
    counts = {"examples": 0, "files": 0, "commands": 0}

    @settings(max_examples=args.examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(examples())
    def explore(example: Example) -> None:
        outcome = run_example(example)
        counts["examples"] += 1
        counts["files"] += len(example.files)
        counts["commands"] += outcome.commands
        if outcome.violations:
            failures.append((example, outcome))
        if counts["examples"] % 50 == 0:
            print(f"… {counts['examples']} inputs, {len(failures)} failing", file=sys.stderr, flush=True)

    if args.seed is not None:
        explore = seed(args.seed)(explore)
    started = time.perf_counter()
    explore()
    seconds = time.perf_counter() - started
    print(f"inputs tried: {counts['examples']} ({counts['files']} generated files, {counts['commands']} kb commands) "
          f"in {seconds:.0f} s")
    print(f"failures: {len(failures)}")
    kinds: dict[str, int] = {}
    for _example, outcome in failures:
        for violation in outcome.violations:
            key = violation.split(":")[0] + ": " + re.sub(r"\d+", "N", violation.split(":", 2)[1])[:60]
            kinds[key] = kinds.get(key, 0) + 1
    for key, count in sorted(kinds.items(), key=lambda item: -item[1]):
        print(f"  {count:5}  {key}")
    for example, outcome in failures[: args.show]:
        print("\n" + example.describe())
        for violation in outcome.violations:
            print(f"  ! {violation}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
