"""The repository's conftest.py: trained figures in notebooks checked within a tolerance."""

import doctest
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("figures_conftest", ROOT / "conftest.py")
figures_conftest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(figures_conftest)


def test_docstring_examples():
    assert doctest.testmod(figures_conftest).failed == 0


def test_markers_are_read_with_their_tolerances_and_patterns():
    source = "# NBVAL_CHECK_FIGURES within 2.5: mean {} nats\n  #  NBVAL_CHECK_FIGURES within 8: GRU: {}%\nprint(1)"
    assert figures_conftest.figure_checks(source) == [(2.5, "mean {} nats"), (8.0, "GRU: {}%")]
    assert figures_conftest.figure_checks("# NBVAL_CHECK_OUTPUT\nprint(1)") == []


@pytest.mark.parametrize("pattern", ["accuracy %", "{} and {}"])
def test_a_pattern_needs_one_placeholder(pattern):
    with pytest.raises(ValueError, match="exactly once"):
        figures_conftest.figure_checks(f"# NBVAL_CHECK_FIGURES within 8: {pattern}\n")


def test_only_the_figures_in_the_pattern_are_compared():
    committed = "RNN: test accuracy 58.85% ± 1.66% (seeds: 58.88%, 57.19%, 60.50%)"
    moved_seeds = "RNN: test accuracy 56.10% ± 4.69% (seeds: 56.31%, 51.31%, 60.69%)"
    assert figures_conftest.compare_figures("RNN: test accuracy {}%", 8, committed, moved_seeds) == []


def test_a_pattern_is_matched_at_the_start_of_a_line_only():
    committed = "   LSTM: test accuracy 73.19%\nLN-LSTM: test accuracy 60.46%"
    assert figures_conftest.figures("LSTM: test accuracy {}%", committed) == [73.19]
    assert figures_conftest.compare_figures("LSTM: test accuracy {}%", 2, committed, "LSTM: test accuracy 74.00%") == []


@pytest.mark.parametrize(
    ("new", "problem"),
    [
        ("test accuracy 48.84%", "10.01 apart, more than 8"),  # moved 10 points down
        ("test accuracy 66.86%", "8.01 apart"),  # just past the tolerance, upwards
        ("test accuracy nan%", "0 figures match"),
        ("", "0 figures match"),
        ("test accuracy 58.85%\ntest accuracy 58.85%", "2 figures match"),
    ],
)
def test_a_figure_that_moves_or_vanishes_fails(new, problem):
    problems = figures_conftest.compare_figures("test accuracy {}%", 8, "test accuracy 58.85%", new)
    assert len(problems) == 1 and problem in problems[0]


def test_a_figure_at_the_tolerance_passes():
    assert figures_conftest.compare_figures("acc {}%", 8, "acc 58.85%", "acc 50.85%") == []


def test_a_committed_output_without_figures_fails():
    problems = figures_conftest.compare_figures("accuracy {}%", 8, "loss 0.3", "loss 0.3")
    assert problems and "nothing would be checked" in problems[0]


def notebook(cells):
    """A notebook whose code cells have the given (source, committed text output) pairs, as if run."""
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": k,
                "id": f"c{k}",
                "metadata": {},
                "outputs": [{"name": "stdout", "output_type": "stream", "text": out}],
                "source": src,
            }
            for k, (src, out) in enumerate(cells, 1)
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_nbval_runs_the_tolerant_comparison(tmp_path):
    """End to end: pytest --nbval-lax with the repository's conftest.py fails the cell that moved too far."""
    marker = "# NBVAL_CHECK_FIGURES within 8: RNN: accuracy {}%\n# NBVAL_CHECK_FIGURES within 1: bag: accuracy {}%\n"
    cells = [
        (
            marker + "print('RNN: accuracy 55.00% (seed 0: 40.00%)\\nbag: accuracy 85.50%')",
            "RNN: accuracy 58.85% (seed 0: 57.19%)\nbag: accuracy 85.12%\n",
        ),  # both within: passes
        (
            marker + "print('RNN: accuracy 25.00%\\nbag: accuracy 85.12%')",
            "RNN: accuracy 58.85%\nbag: accuracy 85.12%\n",
        ),  # the RNN stopped learning: fails
        ("print('RNN: accuracy 25.00%')", "RNN: accuracy 58.85%\n"),  # no marker: lax mode does not compare
    ]
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "figures.ipynb").write_text(json.dumps(notebook(cells)))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-p", "no:xdist", "figures.ipynb"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "1 failed, 2 passed" in run.stdout, run.stdout
    assert "'RNN: accuracy {}%' (within 8): figure 1: 25.0 printed, 58.85 committed: 33.85 apart" in run.stdout
    assert "'bag: accuracy {}%'" not in run.stdout
