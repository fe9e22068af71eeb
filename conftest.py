"""Trained figures in the lessons, checked within a tolerance (an nbval extension for `make test`).

A notebook cell whose output is a trained figure (a test accuracy) cannot be compared exactly: the
rounding of every sum differs between CPUs (Intel and AMD, AVX2 and AVX-512, ARM) and thread counts,
and training amplifies it. Such a cell carries, instead of ``# NBVAL_CHECK_OUTPUT``, one line per
checked figure, e.g.

    # NBVAL_CHECK_FIGURES within 8: RNN: test accuracy {}%

nbval runs the cell as usual; then every number printed where ``{}`` stands in the pattern, in lines
that start with it (here the RNN's mean test accuracy), is compared with the same figure in the
committed output. The cell fails when one differs by more than the tolerance (8 units, here
percentage points), when the run printed more or fewer such figures than the committed output, or
when the committed output holds none. Everything else the cell prints (per-seed figures, spreads) is
not compared. README.md ("Tests and CI") says how the tolerances were chosen.
"""

import math
import re

MARKER = re.compile(r"^\s*#\s*NBVAL_CHECK_FIGURES within (\d+(?:\.\d+)?): (.+?)\s*$", re.MULTILINE)
NUMBER = r"([-+]?\d+(?:\.\d+)?)"


def figure_checks(source: str) -> list[tuple[float, str]]:
    """The ``(tolerance, pattern)`` of each ``NBVAL_CHECK_FIGURES`` line of a cell (empty: none).

    >>> figure_checks("# NBVAL_CHECK_FIGURES within 8: RNN: test accuracy {}%\\nprint(1)")
    [(8.0, 'RNN: test accuracy {}%')]
    """
    checks = [(float(tolerance), pattern) for tolerance, pattern in MARKER.findall(source)]
    for _, pattern in checks:
        if pattern.count("{}") != 1:
            raise ValueError(f"the NBVAL_CHECK_FIGURES pattern {pattern!r} must hold {{}} exactly once")
    return checks


def figures(pattern: str, text: str) -> list[float]:
    """The numbers that stand where ``{}`` is in ``pattern``, in the lines of ``text`` that start with it.

    A line may start with spaces before the pattern; it is never looked for in the middle of a line, so
    that ``LSTM: {}`` does not match ``LN-LSTM: 60.46``.

    >>> figures("LSTM: acc {}%", "  LSTM: acc 58.85% (seeds: 57.19%)\\nLN-LSTM: acc 60.46%\\nLSTM: acc 7%")
    [58.85, 7.0]
    """
    before, after = (re.escape(part) for part in pattern.split("{}"))
    return [float(number) for number in re.findall(r"^[ \t]*" + before + NUMBER + after, text, re.MULTILINE)]


def compare_figures(pattern: str, tolerance: float, committed: str, new: str) -> list[str]:
    """What is wrong with the figures of ``new`` against those of ``committed`` (an empty list: nothing).

    >>> compare_figures("acc {}%", 8, "acc 58.85%", "acc 56.10%")
    []
    >>> compare_figures("acc {}%", 8, "acc 58.85%", "acc 25.00%")
    ['figure 1: 25.0 printed, 58.85 committed: 33.85 apart, more than 8']
    """
    want, got = figures(pattern, committed), figures(pattern, new)
    if not want:
        return [f"the committed output holds no figure matching {pattern!r}: nothing would be checked"]
    if len(got) != len(want):
        return [f"{len(got)} figures match {pattern!r} where the committed output has {len(want)}"]
    problems = []
    for k, (old, value) in enumerate(zip(want, got), 1):
        if not math.isclose(value, old, abs_tol=tolerance, rel_tol=0):
            problems.append(
                f"figure {k}: {value} printed, {old} committed: {abs(value - old):.2f} apart, more than {tolerance:g}"
            )
    return problems


def output_text(outputs) -> str:
    """The text a cell printed: its streams and the plain-text form of its results."""
    parts = []
    for output in outputs:
        if "text" in output:
            parts.append(output["text"])
        elif "text/plain" in output.get("data", {}):
            parts.append(output["data"]["text/plain"])
    return "".join(parts)


def pytest_collection_modifyitems(items):
    """Give every notebook cell with ``NBVAL_CHECK_FIGURES`` lines the tolerant comparison."""
    for item in items:
        cell = getattr(item, "cell", None)
        checks = figure_checks(cell.source) if cell is not None and cell.get("cell_type") == "code" else []
        if not checks:
            continue

        def compare(test, ref, skip_compare=None, item=item, checks=checks):
            new, committed = output_text(test), output_text(ref)
            problems = [
                f"{pattern!r} (within {tolerance:g}): {problem}"
                for tolerance, pattern in checks
                for problem in compare_figures(pattern, tolerance, committed, new)
            ]
            item.comparison_traceback = [*problems, "committed output:", committed, "this run printed:", new]
            return not problems

        item.options["check"] = True
        item.compare_outputs = compare
