"""Time a GRU layer against minGRU, step by step and in parallel over time, for growing sequence lengths.

    python benchmarks/bench_scan.py               # T = 64, 256, 1024, 4096, 1 thread (a few minutes on our 2-core CPU)
    python benchmarks/bench_scan.py --threads 2   # the same with 2 threads
    python benchmarks/bench_scan.py --smoke       # tiny sizes (what CI runs)

One training step of the recurrent layer alone: forward and backward over a
batch of 16 sequences of T random input vectors of size 128 (which need a
gradient, as an embedding's output does), hidden size 128, loss ``out.sum()``:

- gru: ``nn.GRU(128, 128, batch_first=True)``, PyTorch's fused recurrent layer
  (its CPU kernel, cuDNN on a GPU): still T steps, each waiting for the one before;
- loop: ``torchnlp.MinGRU`` run one step at a time (``h = cell.step(x_t, h)`` for
  each ``x_t`` of ``x.unbind(1)``), T small steps of Python and autograd;
- log: ``torchnlp.MinGRU`` itself: the gates of all T steps at once, then the
  recurrence with ``torchnlp.scan_log`` (a cumsum and a logcumsumexp over T);
- scan: the same cell's gates, then the recurrence in linear space with
  ``torchnlp.scan_parallel`` (ceil(log2 T) rounds over all T steps).

The three minGRU forms share one cell (the same weights); before timing, each T
checks that loop, log and scan give the same outputs. Everything runs in one
process (``torch.set_num_threads(--threads)``), on CUDA if available. Each T runs
every method once untimed, then ``--repeats`` timed rounds, each running the four
methods in an order that rotates from round to round. Printed: the median wall
time of one forward + backward step in ms and the ratios of these medians
loop/log, loop/scan and gru/log; on the CPU also the median CPU times of the
process and the same ratios of them (less sensitive than wall time to other
jobs on the machine; with one thread on an idle machine they agree).

Memory, per method and T: ``saved MB``, the bytes of the tensors autograd keeps
for the backward pass (counted with ``torch.autograd.graph.saved_tensors_hooks``,
each storage once, the parameters and the input not counted), the activation
memory that grows with T; on CUDA also ``peak MB``, ``torch.cuda.max_memory_allocated``
during the step above what was allocated before it. (On the CPU, Python's tracemalloc
does not see torch's allocations and the process's max RSS only grows, so the
saved tensors are what is measured there.)
"""

import argparse
import statistics
import time

import torch

import torchnlp


def gru(model, x):
    return model["gru"](x)[0]


def loop(model, x):
    cell, h, out = model["cell"], None, []
    # unbind: the backward pass stacks the T input gradients once, where x[:, t] would add each one into a
    # zero tensor of x's full size (quadratic in T: 18.8 s of CPU time instead of 1.2 s at T = 4096 on our CPU)
    for x_t in x.unbind(1):
        h = cell.step(x_t, h)
        out.append(h)
    return torch.stack(out, dim=1)


def log(model, x):
    return model["cell"](x)[0]


def scan(model, x):
    cell = model["cell"]
    z = torch.sigmoid(cell.linear_z(x))
    pre = cell.linear_h(x)
    h_tilde = torch.where(pre >= 0, pre + 0.5, torch.sigmoid(pre))  # minGRU's g, as MinGRU computes it
    return torchnlp.scan_parallel(1 - z, z * h_tilde)


METHODS = {"gru": gru, "loop": loop, "log": log, "scan": scan}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def step(method, model, x):
    """(wall, CPU) seconds for one forward and backward pass of ``method``."""
    for module in model.values():
        module.zero_grad(set_to_none=True)
    x.grad = None
    sync(x.device)
    start, cpu = time.perf_counter(), time.process_time()
    method(model, x).sum().backward()
    sync(x.device)
    return time.perf_counter() - start, time.process_time() - cpu


def memory(method, model, x):
    """(saved MB, peak MB or None): what autograd keeps for backward, and on CUDA the peak allocated above the start."""
    skip = {p.untyped_storage().data_ptr() for module in model.values() for p in module.parameters()}
    skip.add(x.untyped_storage().data_ptr())
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    for module in model.values():
        module.zero_grad(set_to_none=True)
    x.grad = None
    cuda = x.device.type == "cuda"
    if cuda:
        sync(x.device)
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = method(model, x)
    out.sum().backward()
    peak = (torch.cuda.max_memory_allocated() - before) / 2**20 if cuda else None
    return sum(storages.values()) / 2**20, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[64, 256, 1024, 4096], help="sequence lengths T")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=128, help="input and hidden size")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: T = 8, 33, batch 2, size 4, 2 repeats")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.batch, args.size, args.repeats = [8, 33], 2, 4, 2
    torch.set_num_threads(args.threads)
    torchnlp.seed_everything(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = {
        "gru": torch.nn.GRU(args.size, args.size, batch_first=True).to(device),
        "cell": torchnlp.MinGRU(args.size, args.size).to(device),
    }
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} thread(s)"
    print(
        f"GRU and minGRU {args.size} -> {args.size}, batch {args.batch}, forward + backward, {args.repeats} repeats, "
        f"{where} (--threads {args.threads}), torch {torch.__version__}",
        flush=True,
    )

    rows = []
    for T in args.steps:
        x = torch.randn(args.batch, T, args.size, device=device, requires_grad=True)
        with torch.no_grad():
            reference = loop(model, x)
            diff = {name: float((METHODS[name](model, x) - reference).abs().max()) for name in ("log", "scan")}
        mem = {name: memory(method, model, x) for name, method in METHODS.items()}
        times = {name: [] for name in METHODS}
        for method in METHODS.values():
            step(method, model, x)  # untimed warm-up
        for r in range(args.repeats):
            names = list(METHODS)
            for name in names[r % 4 :] + names[: r % 4]:  # rotate the order from round to round
                times[name].append(step(METHODS[name], model, x))
        ms = {name: 1000 * statistics.median(wall for wall, _ in t) for name, t in times.items()}
        cpu_ms = {name: 1000 * statistics.median(cpu for _, cpu in t) for name, t in times.items()}
        rows.append((T, ms, cpu_ms, mem))
        print(
            f"T={T}: "
            + ", ".join(f"{name} {ms[name]:.1f} ms (CPU {cpu_ms[name]:.1f})" for name in METHODS)
            + f"; max |log - loop| {diff['log']:.1e}, max |scan - loop| {diff['scan']:.1e}",
            flush=True,
        )

    cuda = device.type == "cuda"
    names = list(METHODS)
    ratios = (("loop", "log"), ("loop", "scan"), ("gru", "log"))
    header = ["T"] + [f"{name} ms" for name in names] + [f"{a}/{b}" for a, b in ratios]
    if not cuda:  # the same ratios of the median CPU times, less sensitive than wall time to other jobs
        header += [f"{name} CPU ms" for name in names] + [f"{a}/{b}, CPU time" for a, b in ratios]
    header += [f"{name} saved MB" for name in names] + ([f"{name} peak MB" for name in names] if cuda else [])
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(header))
    for T, ms, cpu, mem in rows:
        cells = [str(T)] + [f"{ms[name]:.1f}" for name in names] + [f"{ms[a] / ms[b]:.1f}x" for a, b in ratios]
        if not cuda:
            cells += [f"{cpu[name]:.1f}" for name in names] + [f"{cpu[a] / cpu[b]:.1f}x" for a, b in ratios]
        cells += [f"{mem[name][0]:.2f}" for name in names]
        if cuda:
            cells += [f"{mem[name][1]:.1f}" for name in names]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
