import os
import shutil
import tempfile

# One XLA thread per process: the two pytest-xdist workers already keep both cores busy, and two
# intra-op threads in each made the suite slower (615 s against 681 s for the same tree, one run
# each on the 2-core VM, 2026-12-01: compiling gains, a few execution-heavy tests lose).
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

# One persistent JAX compilation cache per test session, in a fresh temporary directory,
# shared by the pytest-xdist workers and by every subprocess the tests start (gallery scripts,
# `python -m bsnn`, the docs' own-process pages), which read it from the environment. The
# process that creates the directory (the xdist controller, or a plain `pytest -n 0` run)
# removes it at the end; workers inherit the variable, so they find it set and only use it.
# Identical programs (the same model and shapes in several tests) then compile once.
_CACHE_VAR = "BSNN_TEST_JAX_CACHE_DIR"
_OWNS_CACHE = _CACHE_VAR not in os.environ
if _OWNS_CACHE:
    os.environ[_CACHE_VAR] = tempfile.mkdtemp(prefix="bsnn-test-jax-cache-")
os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ[_CACHE_VAR]
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = os.environ.get("BSNN_TEST_CACHE_MIN_SECS", "0")
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import brainstate  # noqa: E402
import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_compilation_cache_dir", os.environ[_CACHE_VAR])
jax.config.update("jax_persistent_cache_min_compile_time_secs", float(os.environ.get("BSNN_TEST_CACHE_MIN_SECS", 0)))
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


# The longest tests (most of them start subprocesses), longest first: pyproject.toml's addopts
# hand tests to the xdist workers one by one in collection order, so these start first and
# the run does not end with one worker busy on a long test while the other idles.
_LONGEST_FIRST = (
    "test_defaults.py::test_every_combination_trains_a_step_or_is_refused_in_flag_words[bptt",
    "test_reliability.py::test_sigkill_at_any_point",
    "test_defaults.py::test_every_combination_trains_a_step_or_is_refused_in_flag_words",
    "test_host_independence.py::test_every_instruction_set_level_gives_the_same_bits",
    "test_gallery.py::test_gallery_script_quick[long_rollout",
    "test_gallery.py::test_gallery_script_quick[alif_memory",
    "test_parallel.py::test_four_devices_match_one_device",
    "test_gallery.py::test_gallery_script_quick[latency_mnist",
    "test_gallery.py::test_gallery_script_quick",
    "test_parallel.py::test_two_processes_on_loopback_agree",
    "test_native.py::test_one_line_on_stderr_when_the_kernel_is_built",
    "test_docs.py::test_tutorial_code_runs[10-scaling",
    "test_docs.py::test_tutorial_code_runs[06-eventprop",
    "test_docs.py::test_tutorial_code_runs",
    "test_data.py::test_synthetic_reproduces_the_brainpy_state_tutorial",
    "test_docs.py::test_mkdocs_build_strict",
    "test_cli.py::test_python_dash_m_entry_point",
)


def pytest_collection_modifyitems(config, items):
    def rank(item):
        nodeid = item.nodeid.split("/")[-1]
        return next((k for k, prefix in enumerate(_LONGEST_FIRST) if nodeid.startswith(prefix)),
                    len(_LONGEST_FIRST))
    items.sort(key=rank)        # stable: the rest keep their order


def pytest_unconfigure(config):
    if _OWNS_CACHE and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ[_CACHE_VAR], ignore_errors=True)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same global brainstate RNG state."""
    brainstate.random.seed(0)
    yield
