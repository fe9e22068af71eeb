"""CI runs each benchmark's smallest setting once, so that the scripts cannot rot (their timings are not checked)."""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script, *args):
    return subprocess.run(
        [sys.executable, BENCHMARKS / script, *args], check=True, capture_output=True, text=True
    ).stdout


def table_rows(out):
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in out.splitlines() if line.startswith("| ")]


def test_bench_loops_smoke_run_prints_the_table():
    out = run("bench_loops.py", "--smoke")
    header, *rows = table_rows(out)
    assert header[:2] == ["recipe", "samples/s"]
    assert [row[0] for row in rows] == [
        "(a) seed",
        "(a') seed, sparse embedding",
        "(b') course, dense embedding",
        "(b) course",
    ]
    assert "64 training items, 1 epochs, 1 repeats, 1 thread(s) per process (--threads 1)" in out
    assert "Embedding of 22,533 rows (this data's vocabulary)" in out
    assert all(float(row[1]) > 0 for row in rows)
    assert rows[0][-2:] == ["1.0x", "1.0x"]  # (a) against itself
