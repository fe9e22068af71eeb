"""CI runs the benchmark's smallest setting once, so that the script cannot rot (its timings are not checked)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_loops.py"


def test_benchmark_smoke_run_prints_the_table():
    out = subprocess.run([sys.executable, SCRIPT, "--smoke"], check=True, capture_output=True, text=True).stdout
    rows = [line for line in out.splitlines() if line.startswith("| (")]
    assert [row.split("|")[1].strip() for row in rows] == ["(a) seed", "(b) course", "(b)/(a)"]
    assert "300 training items, 1 epochs" in out
    samples_per_s = [float(row.split("|")[2]) for row in rows[:2]]
    assert all(s > 0 for s in samples_per_s)
