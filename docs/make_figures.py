"""Run the code of the tutorials; regenerate the figures they show; refresh the gallery page.

    python docs/make_figures.py                  # re-run the pages that draw figures, copy them to docs/img/
    python docs/make_figures.py --gallery DIR    # copy gallery plots from DIR/<script>/ and rebuild the table

The tutorials are Markdown files whose code is executed (``tests/test_docs.py`` uses the
functions here). Conventions:

* a fenced ``python`` block runs; the blocks of a page run in order in one fresh namespace,
  in a temporary working directory;
* a fenced ``console`` block runs each line that starts with ``$ bsnn`` through
  ``bsnn.cli.main`` (the function behind the ``bsnn`` command) and requires exit status 0;
  the other lines are sample output and are not checked;
* ``bash`` and ``text`` blocks are never run (long runs, multi-process commands, output);
* ``<!-- skip -->`` on the line before a fence keeps that block from running;
* ``<!-- docs-test: own-process -->`` anywhere in a page runs it in a fresh Python process
  (for pages that must configure JAX before it starts, e.g. ``XLA_FLAGS``).

A page's figures are the ``img/NAME.png`` it embeds (outside ``img/gallery/``); its code
must write a file called ``NAME.png`` somewhere under its working directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

DOCS = Path(__file__).resolve().parent
SKIP = "<!-- skip -->"
OWN_PROCESS = "<!-- docs-test: own-process -->"
_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)|<img\s[^>]*src=\"([^\"]+)\"")


class Block(NamedTuple):
    """One runnable piece of a page: Python source and the Markdown line it starts on."""

    line: int
    lang: str
    code: str


def blocks(md_path) -> list:
    """The runnable blocks of a page, in order (``console`` blocks already turned into Python)."""
    lines = Path(md_path).read_text().splitlines()
    found, k = [], 0
    while k < len(lines):
        match = _FENCE.match(lines[k])
        if not match or not match.group(1):
            k += 1
            continue
        lang, start = match.group(1), k + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{md_path}:{k + 1}: the ```{lang} block is never closed")
        before = next((lines[j].strip() for j in range(k - 1, -1, -1) if lines[j].strip()), "")
        body = lines[start:end]
        if before != SKIP and lang == "python":
            found.append(Block(start + 1, lang, "\n" * start + "\n".join(body) + "\n"))
        elif before != SKIP and lang == "console":
            found.append(Block(start + 1, lang, _console(body, md_path, start)))
        k = end + 1
    return found


def _console(body, md_path, offset: int) -> str:
    """``$ bsnn ...`` lines -> calls of ``bsnn.cli.main``, each on its command's line of the page.

    A trailing backslash continues a command on the next line.
    """
    code, command, first = [""] * len(body), "", 0
    for j, line in enumerate(body):
        if not (command or line.startswith("$ ")):
            continue
        if not command:
            first, command = j, line[2:]
        else:
            command += " " + line.strip()
        if command.endswith("\\"):
            command = command[:-1].rstrip()
            continue
        argv = shlex.split(command)
        where = f"{Path(md_path).name}:{offset + first + 1}"
        if argv[0] != "bsnn":
            raise ValueError(f"{where}: a console block may only run bsnn commands (use a bash block "
                             f"for others), got {command!r}")
        code[first] = (f"import bsnn.cli as _bsnn_cli; "
                       f"assert _bsnn_cli.main({argv[1:]!r}) == 0, {f'{where}: {command} failed'!r}")
        command = ""
    return "\n" * offset + "\n".join(code) + "\n"


def own_process(md_path) -> bool:
    return OWN_PROCESS in Path(md_path).read_text()


def images(md_path) -> list:
    """Relative paths of the images a page embeds (Markdown ``![..](..)`` and ``<img src>``)."""
    text = Path(md_path).read_text()
    return [a or b for a, b in _IMAGE.findall(text) if not (a or b).startswith(("http://", "https://"))]


def program(md_path) -> str:
    """The whole page as one Python program (for a fresh process), each line where it is in the page."""
    lines = [""] * (len(Path(md_path).read_text().splitlines()) + 1)
    for b in blocks(md_path):
        for k, line in enumerate(b.code.split("\n")):
            if line:
                lines[k] = line
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _sandbox(workdir):
    """Run in ``workdir`` and give back the working directory and the environment afterwards."""
    cwd, env = os.getcwd(), dict(os.environ)
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)


def run_page(md_path, workdir) -> None:
    """Run every block of a page in ``workdir``; raise with the page and line of a failure."""
    md_path = Path(md_path).resolve()
    os.environ.setdefault("MPLBACKEND", "Agg")
    if own_process(md_path):
        script = Path(workdir) / f"_{md_path.stem}.py"
        script.write_text(program(md_path))
        proc = subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True, text=True,
                              timeout=600)
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            raise RuntimeError(f"{md_path.name} failed (run as {script}):\n{proc.stderr[-4000:]}")
        return
    namespace = {"__name__": f"docs_{md_path.stem.replace('-', '_')}"}
    with _sandbox(workdir):
        for b in blocks(md_path):
            exec(compile(b.code, str(md_path), "exec"), namespace)


def figures(md_path) -> list:
    """The figures a page makes: names under ``img/`` that are not gallery plots."""
    return [p for p in images(md_path) if p.startswith("img/") and not p.startswith("img/gallery/")]


def make_figures(pages=None) -> list:
    """Run the pages that embed their own figures and copy each figure to ``docs/img/``."""
    written = []
    for md in sorted(pages or DOCS.glob("[0-9][0-9]-*.md")):
        wanted = figures(md)
        if not wanted:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            run_page(md, tmp)
            for rel in wanted:
                hits = [p for p in Path(tmp).rglob(Path(rel).name) if p.is_file()]
                if len(hits) != 1:
                    raise RuntimeError(f"{md.name} embeds {rel} but its code wrote {len(hits)} files "
                                       f"named {Path(rel).name}: {hits}")
                dest = DOCS / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(hits[0], dest)
                written.append(dest)
                print(f"{md.name}: {dest.relative_to(DOCS.parent)} ({dest.stat().st_size // 1024} KiB)")
    return written


# ---- the gallery page ------------------------------------------------------------------------
GALLERY_START, GALLERY_END = "<!-- gallery:start -->", "<!-- gallery:end -->"
_PLOT_ORDER = ("learning_curves", "raster", "membrane", "memory")


def _row(name: str, r: dict) -> str:
    """One line of the results table from a gallery ``results.json``."""
    mode = "quick" if r.get("quick") else "full"
    if r.get("name") == "alif_memory":               # one result per neuron kind and method
        acc = ", ".join(f"{m} {100 * v['test_acc']:.2f}%" for m, v in r["runs"].items())
        return (f"| `{name}` | {r['task']}, recurrent 20-64-2, bptt and eprop, {r['train_samples']} train / "
                f"{r['test_samples']} test | {mode}, {r['epochs']} epoch(s), {r['wall_time_s']:.0f} s | "
                f"test accuracy: {acc} | {r['target']} |")
    if r.get("name") == "randman":                   # one result per learning rule
        acc = ", ".join(f"{m} {100 * v['test_acc']:.2f}%" for m, v in r["runs"].items())
        return (f"| `{name}` | {r['task']}, bptt / eventprop / eprop, {r['train_samples']} train / "
                f"{r['test_samples']} test | {mode}, {r['epochs']} epoch(s), {r['wall_time_s']:.0f} s | "
                f"test accuracy: {acc} | {r['reference']['source']} |")
    if "runs" in r:                                   # long_rollout: one result per method
        acc = ", ".join(f"{m} {v['test_acc']:.3f}" for m, v in r["runs"].items())
        rss = ", ".join(f"{m} +{v['training_rss_mb']:.0f} (peak {v['peak_rss_mb']:.0f}) MiB" for m, v in r["runs"].items())
        wall = sum(v["wall_time_s"] for v in r["runs"].values())
        return (f"| `{name}` | {r['dataset']}, T = {r['steps']} | {mode}, {r['epochs']} epoch(s), {wall:.0f} s | "
                f"test accuracy: {acc}; memory added by training (peak RSS): {rss} | - |")
    ref = r.get("reference", {})
    if "final_loss" in ref and "test_acc" not in ref:
        result = f"training loss {r['first_train_loss']:.3f} -> {r['final_train_loss']:.3f}"
        ref_text = f"loss {ref.get('first_loss')} -> {ref['final_loss']}"
    else:
        result = f"{100 * r['test_acc']:.2f}% test"
        value = ref.get("test_acc")
        ref_text = (f"{100 * value:.2f}%" if isinstance(value, (int, float)) else
                    "-".join(f"{100 * v:.1f}" for v in value) + "%" if isinstance(value, list) else "")
    return (f"| `{name}` | {r['dataset']}, {r['method']}, {r['train_samples']} train / {r['test_samples']} test | "
            f"{mode}, {r['epochs']} epoch(s), {r['wall_time_s']:.0f} s | {result} | "
            f"{ref_text}, {ref.get('source', '')} |")


def _plots(run: Path) -> list:
    def key(p):
        kind = "learning_curves" if p.stem.startswith("learning_curves") else p.stem
        return (_PLOT_ORDER.index(kind) if kind in _PLOT_ORDER else len(_PLOT_ORDER), p.name)
    return sorted((p for p in run.glob("*.png") if p.is_file()), key=key)


def gallery(runs_dir) -> None:
    """Copy ``runs_dir/<script>/*.png`` into ``docs/img/gallery/<script>/``; rebuild gallery.md's section.

    ``runs_dir/<script>/`` is a gallery script's ``--out`` (with its ``results.json``).
    """
    runs_dir = Path(runs_dir)
    rows, sections, machines = [], [], set()
    scripts = DOCS.parent / "gallery"
    for results in sorted(runs_dir.glob("*/results.json")):
        run, name = results.parent, results.parent.name
        r = json.loads(results.read_text())
        target = DOCS / "img" / "gallery" / name
        if target.is_dir():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        hidden = re.fullmatch(r"(.*)_hidden(\d+)", name)
        suffix = next((f for f in ("_best", "_learn") if name.endswith(f)), "")
        base = hidden.group(1) if hidden else name.removesuffix(suffix) if suffix else name
        flags = f" --hidden {hidden.group(2)}" if hidden else (f" --{suffix[1:]}" if suffix else "")
        script = scripts / f"{base}.py"
        title = name
        if script.is_file():
            doc = re.search(r'^"""(.*)', script.read_text())
            title = doc.group(1).strip() if doc else name
        images = []
        for plot in _plots(run):
            shutil.copyfile(plot, target / plot.name)
            images.append(f"![{name}: {plot.stem.replace('_', ' ')}](img/gallery/{name}/{plot.name})")
        command = f"python gallery/{base}.py{flags}" + (" --quick" if r.get("quick") else "")
        sections.append(f"### {name}\n\n{title}\n\n`{command}`\n\n" + "\n\n".join(images))
        rows.append(_row(name, r))
        m = r.get("machine", {})
        machines.add(f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, JAX on {m.get('backend', '?')}")
    if not rows:
        raise SystemExit(f"no */results.json under {runs_dir}")
    block = "\n".join([
        GALLERY_START, "",
        "| script | data, method, samples | mode, epochs, wall time | result | reference |",
        "| --- | --- | --- | --- | --- |", *rows, "",
        f"Measured on: {'; '.join(sorted(machines))}. Wall time includes compilation and evaluation.", "",
        "\n\n".join(sections), "", GALLERY_END])
    page = DOCS / "gallery.md"
    text = page.read_text()
    head, rest = text.split(GALLERY_START, 1)
    page.write_text(head + block + rest.split(GALLERY_END, 1)[1])
    print(f"{page}: {len(rows)} scripts")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", metavar="DIR", help="gallery output directory (DIR/<script>/results.json)")
    parser.add_argument("pages", nargs="*", help="pages to run (default: every tutorial that embeds figures)")
    args = parser.parse_args(argv)
    if args.gallery:
        gallery(args.gallery)
    else:
        make_figures([Path(p).resolve() for p in args.pages] or None)


if __name__ == "__main__":
    main()
