"""Shared helpers for the benchmark scripts: timing windows, subprocess isolation, reports.

Every benchmark measures each configuration in a fresh subprocess (so peak RSS belongs to
that configuration alone), times several windows after a warm-up (the first call, which
compiles, is reported separately), and writes ``results/NAME.json`` plus a markdown table
``results/NAME.md``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def machine() -> dict:
    """What the numbers were measured on."""
    import jax
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()], "python": platform.python_version(),
            "jax": jax.__version__}


def peak_rss_mb() -> float:
    """Peak resident set size of this program (MiB): ``VmHWM`` of ``/proc/self/status``.

    Not ``ru_maxrss``: on Linux that carries the parent's peak over fork + exec, so a worker
    started by a parent holding 900 MiB would report at least 900 MiB. ``VmHWM`` belongs to
    the new address space only. Falls back to ``ru_maxrss`` where /proc is missing.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_windows(run: Callable[[], object], block: Callable[[object], None], *, windows: int = 5,
                 calls_per_window: int = 5) -> dict:
    """Compile/first-call time, then the median seconds per call over ``windows`` windows."""
    t0 = time.perf_counter()
    block(run())
    first = time.perf_counter() - t0
    per_call = []
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(calls_per_window):
            out = run()
        block(out)
        per_call.append((time.perf_counter() - t0) / calls_per_window)
    return {"first_call_s": first, "median_s": statistics.median(per_call),
            "min_s": min(per_call), "max_s": max(per_call), "windows": windows,
            "calls_per_window": calls_per_window}


def run_isolated(script: str, args: list, timeout: int = 1800) -> dict:
    """Run ``python script *args`` in a fresh process; it prints one JSON line last."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_report(name: str, payload: dict, columns: list, rows: list, notes: str = "") -> tuple:
    """Write ``results/NAME.json`` and a markdown table ``results/NAME.md``; returns both paths."""
    os.makedirs(RESULTS, exist_ok=True)
    payload = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), **payload}
    if payload["machine"]["backend"] != "cpu":
        payload["machine"]["device_kind"] = device_kind()
    jpath = os.path.join(RESULTS, f"{name}.json")
    with open(jpath, "w") as f:
        json.dump(payload, f, indent=2, default=str)
    m = payload["machine"]
    where = m["backend"] if m["backend"] == "cpu" else f"{m['backend']}: {m['device_kind']}"
    lines = [f"# {name}", "", f"Machine: {m['cpu']}, {m['cores']} cores, JAX {m['jax']} ({where}); "
             f"{payload['date']}.", ""]
    if notes:
        lines += [notes, ""]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    mpath = os.path.join(RESULTS, f"{name}.md")
    with open(mpath, "w") as f:
        f.write("\n".join(lines) + "\n")
    return jpath, mpath


# ---- interleaved timing windows across worker processes (used by compare_peers.py) ----------
MARK = "@@bench "


def reply(obj: dict):
    """Worker side: send one message to the parent (a marked JSON line on stdout)."""
    print(MARK + json.dumps(obj, default=float), flush=True)


def serve_windows(runner, batches, *, warmup: int) -> None:
    """Worker side of the window protocol: train through the epoch on the parent's command.

    The first step (compilation included) and ``warmup`` more are timed one by one and
    reported with ``{"op": "ready"}``. Then each ``{"op": "window", "batches": n}`` trains
    the next ``n`` batches and replies the seconds they took (synchronized at the end);
    ``{"op": "finish"}`` trains the rest of the epoch untimed, evaluates on the test set and
    replies the accuracies and this process's peak RSS (after training, and after
    evaluation). ``runner`` has ``step``, ``sync``, ``evaluate`` and ``describe``;
    ``batches`` has ``n_batches``, ``train(k)`` and ``test()``.
    """
    k, steps_s = 0, []
    for _ in range(1 + warmup):
        x, y = batches.train(k)
        t0 = time.perf_counter()
        loss = runner.sync(runner.step(x, y))
        steps_s.append(time.perf_counter() - t0)
        k += 1
    reply({"op": "ready", "first_call_s": steps_s[0], "warmup_s": steps_s[1:], "loss": loss,
           "rss_after_warmup_mb": peak_rss_mb(), **runner.describe()})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "window":
            n = int(cmd["batches"])
            data = [batches.train(k + i) for i in range(n)]
            t0 = time.perf_counter()
            for x, y in data:
                handle = runner.step(x, y)
            loss = runner.sync(handle)
            reply({"op": "window", "seconds": time.perf_counter() - t0, "batches": n, "loss": loss})
            k += n
        elif cmd["op"] == "finish":
            t0 = time.perf_counter()
            handle = None
            while k < batches.n_batches:
                handle = runner.step(*batches.train(k))
                k += 1
            loss = runner.sync(handle) if handle is not None else None
            rest_s = time.perf_counter() - t0
            rss_train = peak_rss_mb()
            device_peak = runner.device_peak_mb() if hasattr(runner, "device_peak_mb") else None
            t0 = time.perf_counter()
            accuracy = runner.evaluate(*batches.test())
            reply({"op": "done", "trained_batches": k, "rest_s": rest_s, "loss": loss,
                   "eval_s": time.perf_counter() - t0, "peak_rss_train_mb": rss_train,
                   "peak_rss_mb": peak_rss_mb(), "device_peak_mb": device_peak, **accuracy})
            return
        else:
            raise ValueError(f"unknown command {cmd!r}")


class WindowWorker:
    """Parent side: one worker process speaking the window protocol."""

    def __init__(self, name: str, argv: list, env: dict | None = None):
        self.name = name
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.proc = subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1, env=env)

    def read(self) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                code = self.proc.wait()
                raise RuntimeError(f"worker {self.name} ended (exit code {code}) before replying; see its stderr")
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])

    def ask(self, cmd: dict) -> dict:
        self.resume()
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def pause(self):
        """Stop the whole process (SIGSTOP) until its next turn: an idle worker's threads can
        then take no CPU from the one that is timed, whatever its runtime does while it waits
        (OpenMP with OMP_WAIT_POLICY=ACTIVE spins its threads without end)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def interleaved(workers: dict, *, windows: int, batches_per_window: int, batch: int) -> dict:
    """Start each worker in turn (compilation alone), time ``windows`` rounds of windows with
    the workers taking turns (the first of a round rotates: ABC, BCA, CAB, ...), then finish
    each in turn. Every worker but the one whose turn it is stays stopped (``pause``), so
    the one timed has the machine to itself but for load from outside. ``workers``:
    ``{name: argv}`` or ``{name: (argv, extra environment)}``. Returns ``{name: summary}``."""
    started, out = {}, {}
    try:
        for name, argv in workers.items():
            print(f"  starting {name} ...", file=sys.stderr, flush=True)
            argv, env = argv if isinstance(argv, tuple) else (argv, None)
            started[name] = WindowWorker(name, argv, env)
            out[name] = {"ready": started[name].read(), "windows_s": []}
            started[name].pause()
        names = list(started)
        for w in range(windows):
            for j in range(len(names)):
                name = names[(w + j) % len(names)]
                r = started[name].ask({"op": "window", "batches": batches_per_window})
                started[name].pause()
                out[name]["windows_s"].append(r["seconds"])
            print(f"  window {w + 1}/{windows}: " + ", ".join(
                f"{n} {batch * batches_per_window / out[n]['windows_s'][-1]:.0f}/s" for n in names),
                file=sys.stderr, flush=True)
        for name in names:
            out[name]["done"] = started[name].ask({"op": "finish"})
            started[name].pause()
    finally:
        for w in started.values():
            w.close()
    for name, r in out.items():
        per_window = r["windows_s"]
        med = statistics.median(per_window) if per_window else float("nan")
        r.update(samples_per_s=batch * batches_per_window / med, median_window_s=med,
                 samples_per_s_min=batch * batches_per_window / max(per_window),
                 samples_per_s_max=batch * batches_per_window / min(per_window),
                 windows=len(per_window), batches_per_window=batches_per_window)
    return out


def write_sections(name: str, payload: dict, title: str, sections: list, notes: str = "") -> tuple:
    """Like ``write_report`` with several tables: ``sections`` is a list of
    ``(heading, text, columns, rows)``. Writes ``results/NAME.json`` and ``results/NAME.md``."""
    os.makedirs(RESULTS, exist_ok=True)
    payload = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), **payload}
    jpath = os.path.join(RESULTS, f"{name}.json")
    with open(jpath, "w") as f:
        json.dump(payload, f, indent=2, default=str)
    m = payload["machine"]
    kind = device_kind()
    payload["machine"]["device_kind"] = kind
    with open(jpath, "w") as f:
        json.dump(payload, f, indent=2, default=str)
    lines = [f"# {title}", "", f"Machine: {m['cpu']}, {m['cores']} cores, JAX {m['jax']} ({m['backend']}: "
             f"{', '.join(m['devices'])}{'' if m['backend'] == 'cpu' else ', ' + kind}); {payload['date']}.", ""]
    if notes:
        lines += [notes, ""]
    for heading, text, columns, rows in sections:
        lines += [f"## {heading}", ""]
        if text:
            lines += [text, ""]
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        lines += [""]
    mpath = os.path.join(RESULTS, f"{name}.md")
    with open(mpath, "w") as f:
        f.write("\n".join(lines))
    return jpath, mpath


def device_kind() -> str:
    """The name of JAX's first device (e.g. ``NVIDIA H100 80GB HBM3``; ``cpu`` on the CPU)."""
    import jax
    return str(getattr(jax.devices()[0], "device_kind", jax.devices()[0].platform))


def parse_only(text: str, names) -> list:
    """``--only a,b`` -> ``["a", "b"]``; exits with the known names for an unknown one."""
    only = [w.strip() for w in text.split(",") if w.strip()]
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise SystemExit(f"--only takes names from {list(names)}, got {unknown}")
    return only
