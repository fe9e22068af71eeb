"""Time a bidirectional LSTM over a padded batch three ways: plain, exact (torchnlp.rnn_padded) and packed.

    python benchmarks/bench_padded.py             # T = 100, 200, 400, 800, 1 thread (22 minutes on our 2-core CPU)
    python benchmarks/bench_padded.py --smoke     # tiny sizes (what CI runs)

One training step of the recurrent layer alone: forward and backward through
``nn.LSTM(128, 128, bidirectional=True, batch_first=True)`` over a batch of 64
sequences of random inputs (which need a gradient, as an embedding's output
does), with the loss ``output.sum() + h_n.sum()``. The longest sequence has T
steps; the others have lengths drawn uniformly from 0.9 T .. T (so they differ
by up to 10%, as in a length-bucketed batch); as a control, all have length T.

- plain: ``rnn(x)``, the whole padded batch. Not exact when lengths differ: the
  forward state runs on through the padding and the backward direction reads
  the padding first.
- exact: ``torchnlp.rnn_padded(rnn, x, lengths)``, each sequence read up to its
  own end in both directions, without packing.
- packed: ``pack_padded_sequence(x, lengths, batch_first=True,
  enforce_sorted=False)``, ``rnn``, ``pad_packed_sequence``.

Everything runs in one process with ``torch.set_num_threads(--threads)``.
Each (T, lengths) setting runs every method once untimed, then ``--repeats``
timed rounds; each round runs the three methods, in an order that rotates from
round to round. Printed: the median wall time of one forward+backward step in
ms, the ratios packed/exact and exact/plain of these medians, and the same
ratios of the median CPU times of the process (less sensitive than wall time
to other jobs on the machine; with one thread on an idle machine they agree). Before timing, each T checks that
exact and packed give the same outputs and final states.
"""

import argparse
import math
import statistics
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import torchnlp


def plain(rnn, x, lengths):
    output, (h_n, _) = rnn(x)
    return output, h_n


def exact(rnn, x, lengths):
    return torchnlp.rnn_padded(rnn, x, lengths)


def packed(rnn, x, lengths):
    out, (h_n, _) = rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    output, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return output, h_n


METHODS = {"plain": plain, "exact": exact, "packed": packed}


def step(method, rnn, x, lengths):
    """(wall, CPU) seconds for one forward and backward pass of ``method``."""
    rnn.zero_grad(set_to_none=True)
    x.grad = None
    start, cpu = time.perf_counter(), time.process_time()
    output, h_n = method(rnn, x, lengths)
    (output.sum() + h_n.sum()).backward()
    return time.perf_counter() - start, time.process_time() - cpu


def check(rnn, x, lengths):
    """Largest difference of exact and of plain from packed: (outputs at real steps, final states)."""
    with torch.no_grad():
        results = {name: method(rnn, x, lengths) for name, method in METHODS.items()}
    real = (torch.arange(x.size(1))[None, :] < lengths[:, None])[:, :, None]  # (B, T, 1)
    return {
        name: (
            float(((results[name][0] - results["packed"][0]) * real).abs().max()),
            float((results[name][1] - results["packed"][1]).abs().max()),
        )
        for name in ("exact", "plain")
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 200, 400, 800], help="longest length T")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=128, help="input and hidden size of the BiLSTM")
    parser.add_argument("--spread", type=float, default=0.1, help="lengths are drawn from (1 - spread) T .. T")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: T = 10, 20, batch 4, size 8, 2 repeats")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.batch, args.size, args.repeats = [10, 20], 4, 8, 2
    torch.set_num_threads(args.threads)
    torchnlp.seed_everything(0)
    rnn = torch.nn.LSTM(args.size, args.size, bidirectional=True, batch_first=True)
    print(
        f"BiLSTM {args.size} -> {args.size}, batch {args.batch}, forward + backward, {args.repeats} repeats, "
        f"{torch.get_num_threads()} thread(s) (--threads {args.threads}), torch {torch.__version__}",
        flush=True,
    )

    rows = []
    for control in (False, True):
        for T in args.steps:
            x = torch.randn(args.batch, T, args.size, requires_grad=True)
            if control:
                lengths = torch.full((args.batch,), T)
            else:
                lengths = torch.randint(math.ceil((1 - args.spread) * T), T + 1, (args.batch,))
                lengths[0] = T  # the longest is T
            diff = check(rnn, x, lengths)
            times = {name: [] for name in METHODS}
            for method in METHODS.values():
                step(method, rnn, x, lengths)  # untimed warm-up
            for r in range(args.repeats):
                names = list(METHODS)
                for name in names[r % 3 :] + names[: r % 3]:  # rotate the order from round to round
                    times[name].append(step(METHODS[name], rnn, x, lengths))
            ms = {name: 1000 * statistics.median(wall for wall, _ in t) for name, t in times.items()}
            cpu_ms = {name: 1000 * statistics.median(cpu for _, cpu in t) for name, t in times.items()}
            described = f"all {T}" if control else f"{int(lengths.min())}..{T}"
            rows.append((T, described, ms, cpu_ms))
            print(
                f"T={T}, lengths {described}: "
                + ", ".join(f"{name} {ms[name]:.1f} ms (CPU {cpu_ms[name]:.1f})" for name in METHODS)
                + "; "
                f"max |exact - packed| output {diff['exact'][0]:.1e}, "
                f"h_n {diff['exact'][1]:.1e}; max |plain - packed| output {diff['plain'][0]:.1e}, "
                f"h_n {diff['plain'][1]:.1e}",
                flush=True,
            )

    print(
        "\n| T | lengths | plain ms | exact ms | packed ms | packed/exact | exact/plain "
        "| packed/exact, CPU time | exact/plain, CPU time |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for T, described, ms, cpu in rows:
        print(
            f"| {T} | {described} | {ms['plain']:.1f} | {ms['exact']:.1f} | {ms['packed']:.1f} | "
            f"{ms['packed'] / ms['exact']:.1f}x | {ms['exact'] / ms['plain']:.2f}x | "
            f"{cpu['packed'] / cpu['exact']:.1f}x | {cpu['exact'] / cpu['plain']:.2f}x |"
        )


if __name__ == "__main__":
    main()
