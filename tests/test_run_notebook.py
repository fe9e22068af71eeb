"""tools/run_notebook.py: the kernel's environment pins the numerics unless asked not to."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import run_notebook  # noqa: E402


def test_kernel_env_pins_threads_and_code_paths(monkeypatch):
    monkeypatch.setattr(run_notebook.platform, "machine", lambda: "x86_64")
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")  # the pinned values win over the caller's
    env = run_notebook.kernel_env(1)
    assert env["OMP_NUM_THREADS"] == "1"
    assert {k: env[k] for k in run_notebook.PINNED} == run_notebook.PINNED


def test_x86_code_paths_are_not_named_on_arm(monkeypatch):
    monkeypatch.setattr(run_notebook.platform, "machine", lambda: "arm64")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")  # left over from the caller: dropped too
    env = run_notebook.kernel_env(1)
    assert env["OMP_NUM_THREADS"] == "1"
    assert not set(run_notebook.PINNED) & set(env)


def test_native_leaves_the_code_paths_to_the_cpu(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # left over from make test's environment: dropped too
    env = run_notebook.kernel_env(2, native=True)
    assert env["OMP_NUM_THREADS"] == "2"
    assert not set(run_notebook.PINNED) & set(env)
