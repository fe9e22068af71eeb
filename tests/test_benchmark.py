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


def test_bench_padded_smoke_run_prints_the_table_and_exact_equals_packed():
    out = run("bench_padded.py", "--smoke")
    header, *rows = table_rows(out)
    assert header[:7] == ["T", "lengths", "plain ms", "exact ms", "packed ms", "packed/exact", "exact/plain"]
    assert [row[0] for row in rows] == ["10", "20", "10", "20"]
    lengths = [row[1] for row in rows]  # e.g. 9..10 (drawn from 9..10, the longest 10), then the control
    assert [text.split("..")[1] for text in lengths[:2]] == ["10", "20"] and lengths[2:] == ["all 10", "all 20"]
    assert all(float(cell) > 0 for row in rows for cell in row[2:5])
    exact_vs_packed = [line.split("max |exact - packed| output ")[1].split(";")[0] for line in out.splitlines()[1:5]]
    assert all(float(d.split(",")[0]) < 1e-5 and float(d.split("h_n ")[1]) < 1e-5 for d in exact_vs_packed)


def test_bench_scan_smoke_run_prints_the_table_and_the_min_grus_agree():
    out = run("bench_scan.py", "--smoke")
    header, *rows = table_rows(out)
    assert header[:8] == ["T", "gru ms", "loop ms", "log ms", "scan ms", "loop/log", "loop/scan", "gru/log"]
    assert [row[0] for row in rows] == ["8", "33"]
    assert all(float(cell) > 0 for row in rows for cell in row[1:5])
    assert all(float(cell) >= 0 for row in rows for cell in row[-4:])  # saved MB (or peak MB on CUDA)
    checks = [line.split("max |log - loop| ")[1] for line in out.splitlines() if line.startswith("T=")]
    assert len(checks) == 2
    assert all(float(c.split(",")[0]) < 1e-4 and float(c.split("max |scan - loop| ")[1]) < 1e-4 for c in checks)
