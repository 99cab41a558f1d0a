"""The documentation: every tutorial's code runs, every image exists, the site builds strictly.

The block conventions (``python`` runs, ``console`` runs its ``$ bsnn`` lines, ``bash``/``text``
are shown only, ``<!-- skip -->``, ``<!-- docs-test: own-process -->``) are implemented in
``docs/make_figures.py``, which also regenerates the figures the pages embed.
"""

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHARED_DATA = ROOT.parent / "shared" / "data"

_spec = importlib.util.spec_from_file_location("bsnn_docs_runner", DOCS / "make_figures.py")
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

TUTORIALS = sorted(DOCS.glob("[0-9][0-9]-*.md"))
PAGES = sorted(DOCS.rglob("*.md"))


def test_the_learning_path_is_complete():
    numbers = [int(p.name[:2]) for p in TUTORIALS]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 12, [p.name for p in TUTORIALS]
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in TUTORIALS + [DOCS / "index.md", DOCS / "gallery.md"]:
        assert page.relative_to(DOCS).as_posix() in nav, f"{page.name} is not in the mkdocs nav"
        assert f"({page.name})" in (DOCS / "index.md").read_text() or page.name == "index.md", \
            f"index.md does not link {page.name}"


@pytest.mark.parametrize("page", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_code_runs(page, tmp_path, monkeypatch, capsys):
    """Run the page's blocks in order in a fresh namespace (quick settings), then check its figures."""
    blocks = runner.blocks(page)
    assert any(b.lang == "python" for b in blocks), f"{page.name} has no runnable python block"
    if "BSNN_DATA" not in os.environ and (SHARED_DATA / "mnist").is_dir():
        monkeypatch.setenv("BSNN_DATA", str(SHARED_DATA))       # MNIST without download, if present
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cpu, wall = time.process_time(), time.perf_counter()
    children = os.times().children_user + os.times().children_system
    runner.run_page(page, tmp_path)
    cpu = time.process_time() - cpu + (os.times().children_user + os.times().children_system - children)
    for figure in runner.figures(page):
        made = list(tmp_path.rglob(Path(figure).name))
        assert len(made) == 1 and made[0].stat().st_size > 5000, \
            f"{page.name} embeds {figure} but its code did not write {Path(figure).name}"
    with capsys.disabled():
        print(f"\n{page.name}: {time.perf_counter() - wall:.1f} s wall, {cpu:.1f} s CPU", end="")


def test_skips_are_rare():
    skipped = {p.name: p.read_text().count(runner.SKIP) for p in PAGES}
    assert sum(skipped.values()) <= 2, skipped


def test_block_conventions(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("\n".join([
        "```python", "a = 1", "```",
        "<!-- skip -->", "```python", "raise SystemExit", "```",
        "```bash", "rm -rf /", "```",
        "```console", "$ bsnn train --epochs 1 \\", "      --quiet", "output line", "```",
        "```text", "not run", "```", ""]))
    blocks = runner.blocks(page)
    assert [b.lang for b in blocks] == ["python", "console"]
    assert blocks[0].code.splitlines()[1] == "a = 1"                      # keeps the page's line numbers
    console = blocks[1].code.splitlines()
    assert console[11].endswith("failed'") and "['train', '--epochs', '1', '--quiet']" in console[11]
    assert runner.images(page) == []
    bad = tmp_path / "bad.md"
    bad.write_text("```console\n$ rm -rf /\n```\n")
    with pytest.raises(ValueError, match="only run bsnn commands"):
        runner.blocks(bad)
    unclosed = tmp_path / "unclosed.md"
    unclosed.write_text("```python\nx = 1\n")
    with pytest.raises(ValueError, match="never closed"):
        runner.blocks(unclosed)


def test_a_failing_block_names_the_page_and_line(tmp_path):
    page = tmp_path / "broken.md"
    page.write_text("Intro.\n\n```python\nx = 1\ny = x / 0\n```\n")
    with pytest.raises(ZeroDivisionError) as info:
        runner.run_page(page, tmp_path)
    frames = [(f.filename, f.lineno) for f in __import__("traceback").extract_tb(info.tb)]
    assert (str(page.resolve()), 5) in frames


def test_every_embedded_image_exists():
    missing, count = [], 0
    for page in PAGES:
        for ref in runner.images(page):
            count += 1
            if not (page.parent / ref).is_file():
                missing.append(f"{page.relative_to(DOCS)}: {ref}")
    assert count >= 10
    assert not missing, "images referenced but missing:\n" + "\n".join(missing)


def test_figures_are_small_pngs():
    for png in (DOCS / "img").rglob("*.png"):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", png
        assert len(data) < 300_000, f"{png} is {len(data) // 1024} KiB; keep figures small"
    assert runner.figures(DOCS / "03-encoding.md") and runner.figures(DOCS / "09-plotting.md")


def test_gallery_page_shows_every_gallery_script():
    text = (DOCS / "gallery.md").read_text()
    scripts = sorted(p.stem for p in (ROOT / "gallery").glob("*.py")      # the result scripts, not helpers
                     if not p.name.startswith("_") and "from _common import" in p.read_text())
    for script in scripts:
        assert f"`{script}.py`" in text, f"gallery.md does not describe {script}.py"
        assert f"img/gallery/{script}/" in text, f"gallery.md shows no plot of {script}.py"


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(site)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    print(f"mkdocs build --strict: {time.perf_counter() - start:.1f} s\n{proc.stderr[-2000:]}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "WARNING" not in proc.stderr, proc.stderr
    for page in TUTORIALS:
        assert (site / page.stem / "index.html").is_file(), page.name
    for png in (DOCS / "img").rglob("*.png"):
        assert (site / png.relative_to(DOCS)).is_file(), png
    # Every public name of bsnn has an entry in the API reference.
    import bsnn
    ids = set()
    for html in (site / "api").rglob("index.html"):
        ids.update(re.findall(r'id="(bsnn\.[\w.]+)"', html.read_text()))
    documented = {i.rsplit(".", 1)[-1] for i in ids} | ids
    missing = [name for name in bsnn.__all__ if name != "__version__"
               and name not in documented and f"bsnn.{name}" not in documented]
    assert not missing, f"public names without an API entry: {missing}"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    """The README's Python example is true: its code runs as written."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks, "README.md has no Python example"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for code in blocks:
        exec(compile(code, "README.md", "exec"), namespace)
