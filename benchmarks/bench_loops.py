"""Time the seed course's training recipe against the course's loops, side by side.

    python benchmarks/bench_loops.py                # the full comparison, 1 thread (12-16 minutes on our 2-core CPU)
    python benchmarks/bench_loops.py --threads 2    # the same with 2 threads per process
    python benchmarks/bench_loops.py --smoke        # the smallest setting (what CI runs)

Every recipe trains the same model (Embedding(rows x 64) -> LSTM(64 -> 32) ->
Linear(32 -> 4), the seed's sizes) on the same data: AG News' 7,600-item test
split, split into 6,000 train / 1,600 test items exactly as torchnlp's quick
mode does (the train split is not on our machines). It runs at two embedding
sizes: the seed's 95,812 rows (its vocabulary of AG News' full train split: the
optimizer then does the seed's work at each step) and this data's own
vocabulary (``len(vocab)``, 22,533 rows), where a dense update costs less.

(a) seed: the seed course's recipe, reproduced: tokenize and encode inside the
    collate function at every batch, random batches of 16, padded (not packed)
    input read to the end of the padding, a fresh Adam (lr 1e-3) over every
    parameter at every epoch (the seed's ``train_epoch(net, loader, lr,
    optimizer=None)`` creates one at each call), and its loop, which adds each
    batch's loss tensor to a running total (keeping every batch's graph).
(b) course: the course's loops as lesson 03 uses them: encode once, batches of
    128 texts of similar length, each read up to its real end
    (``torchnlp.rnn_padded`` on the CPU, packed on CUDA), a sparse embedding
    gradient with SparseAdam for the embedding and Adam for the rest (both lr
    1e-2, ``torchnlp.make_adam``), gradients clipped at norm 1.0
    (``torchnlp.train_epoch(..., clip=1.0)``, as ``torchnlp.train(..., clip=1.0)``
    in lesson 03 calls it).
Two more recipes change one thing each, to show where the gain comes from:
(a') the seed's recipe with a sparse embedding (``sparse=True``, a fresh
    ``torchnlp.make_adam``: SparseAdam + Adam, lr 1e-3, at every epoch);
(b') the course's recipe with a dense embedding (plain Adam, lr 1e-2; the
    embedding's gradient then also counts in the clipped norm).

Each recipe runs in its own process (so that peak memory is its own) with
``torch.set_num_threads(--threads)``, all of them alternating, ``--repeats``
times. Printed per embedding size: samples/s (median over all epochs of all
repeats), wall time per epoch (median), samples per second of the process's
CPU time (median; with one thread on an idle machine it equals samples/s, and
it is less sensitive than wall time to other jobs on the machine), peak memory
(max RSS; on CUDA, peak allocated), test accuracy after the last epoch (median
over repeats), the time to reach the seed's final test accuracy of the same
repeat (wall time of training plus the one-off encoding; median over repeats),
and three ratios to (a): samples/s, samples per CPU second, and (a)'s time to
its final accuracy over the recipe's time to reach it. Ratios are those of the
medians.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

import torchnlp

SEED_VOCAB_SIZE = 95_812  # the seed's Embedding(95812, 64) on AG News' full train split

# key -> label in the tables; run in this order in each repeat.
RECIPES = {
    "seed": "(a) seed",
    "seed-sparse": "(a') seed, sparse embedding",
    "course-dense": "(b') course, dense embedding",
    "course": "(b) course",
}


def load_data(limit):
    """AG News sample as torchnlp's quick mode splits it: (train, test, vocab)."""
    os.environ["TORCHNLP_QUICK"] = "1"  # this process only: read the 7,600-item sample
    train, test, _, vocab = torchnlp.load_dataset("ag_news")
    return train[:limit], test[: limit // 4 if limit else None], vocab


def run_seed(args, rows, train, test, vocab, device, sparse=False):
    """Recipe (a), or (a') with ``sparse``: the seed course's classifier, collate function and loop."""

    class SeedLSTMClassifier(torch.nn.Module):
        def __init__(self, vocab_size, embed_dim, hidden_dim, num_class):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab_size, embed_dim, sparse=sparse)
            self.embedding.weight.data = torch.randn_like(self.embedding.weight.data) - 0.5
            self.rnn = torch.nn.LSTM(embed_dim, hidden_dim, batch_first=True)
            self.fc = torch.nn.Linear(hidden_dim, num_class)

        def forward(self, x):
            _, (h, _) = self.rnn(self.embedding(x))
            return self.fc(h[-1])

    def padify(batch):  # tokenizes and encodes every text of every batch, every epoch
        encoded = [vocab.encode(text) for _, text in batch]
        longest = max(map(len, encoded))
        return (
            torch.LongTensor([label for label, _ in batch]),
            torch.stack(
                [F.pad(torch.tensor(ids), (0, longest - len(ids)), mode="constant", value=0) for ids in encoded]
            ),
        )

    def train_epoch(net, loader, lr=1e-3, optimizer=None):
        # The seed's signature: with no optimizer given (as its lessons call it), a new Adam at every call.
        optimizer = optimizer or (torchnlp.make_adam(net, lr) if sparse else torch.optim.Adam(net.parameters(), lr=lr))
        net.train()
        total_loss, acc, count = 0, 0, 0
        for labels, features in loader:
            optimizer.zero_grad()
            features, labels = features.to(device), labels.to(device)
            out = net(features)
            loss = F.cross_entropy(out, labels)
            loss.backward()
            optimizer.step()
            total_loss += loss  # a tensor with its graph: the seed's loop keeps every batch's graph alive
            acc += (out.argmax(1) == labels).sum()
            count += len(labels)
        return total_loss.item() / count, acc.item() / count

    model = SeedLSTMClassifier(rows, 64, 32, 4).to(device)
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = torch.utils.data.DataLoader(
        train, batch_size=16, collate_fn=padify, shuffle=True, generator=generator
    )
    # torchnlp.evaluate reads (x, y) batches: inputs first; the seed's own loop reads (labels, features).
    test_loader = torch.utils.data.DataLoader(test, batch_size=16, collate_fn=lambda batch: padify(batch)[::-1])
    epochs = []
    for _ in range(args.epochs):
        start, cpu = time.perf_counter(), time.process_time()
        train_epoch(model, train_loader, lr=1e-3)
        sync(device)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        acc = torchnlp.evaluate(model, test_loader, progress=False)["acc"]
        epochs.append({"seconds": seconds, "cpu": cpu, "acc": acc})
    return {"setup": 0.0, "epochs": epochs}


def run_course(args, rows, train, test, vocab, device, sparse=True):
    """Recipe (b), or (b') without ``sparse``: the course's loops as lesson 03 uses them."""
    start = time.perf_counter()
    train_data, test_data = torchnlp.encode_dataset(train, vocab), torchnlp.encode_dataset(test, vocab)
    setup = time.perf_counter() - start
    model = torchnlp.RNNClassifier(rows, 4, embed_dim=64, hidden_dim=32, sparse=sparse).to(device)
    train_loader = torchnlp.make_loader(train_data, batch_size=128, seed=args.seed)
    test_loader = torchnlp.make_loader(test_data, batch_size=256, shuffle=False)
    optimizer = torchnlp.make_adam(model, lr=1e-2)
    epochs = []
    for _ in range(args.epochs):  # what torchnlp.train(..., clip=1.0) does, timed epoch by epoch
        start, cpu = time.perf_counter(), time.process_time()
        torchnlp.train_epoch(model, train_loader, optimizer, clip=1.0, progress=False)
        sync(device)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        acc = torchnlp.evaluate(model, test_loader, progress=False)["acc"]
        epochs.append({"seconds": seconds, "cpu": cpu, "acc": acc})
    return {"setup": setup, "epochs": epochs}


def sync(device):
    """Wait for queued GPU work, so that timings include it (nothing to do on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def child(args):
    """Run one recipe in this process and print its results as JSON."""
    torch.set_num_threads(args.threads)
    torchnlp.seed_everything(args.seed)
    device = torchnlp.get_device()
    train, test, vocab = load_data(args.limit)
    rows = SEED_VOCAB_SIZE if args.rows == "seed" else len(vocab)
    recipe = {
        "seed": lambda *a: run_seed(*a, sparse=False),
        "seed-sparse": lambda *a: run_seed(*a, sparse=True),
        "course-dense": lambda *a: run_course(*a, sparse=False),
        "course": lambda *a: run_course(*a, sparse=True),
    }[args.child]
    result = recipe(args, rows, train, test, vocab, device)
    result["rows"] = rows
    result["samples"] = len(train)
    result["threads"] = torch.get_num_threads()
    result["peak_mb"] = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    result["device"] = str(device)
    print(json.dumps(result))


def time_to_reach(result, target):
    """Setup plus training seconds until the test accuracy first reaches ``target`` (None if never)."""
    elapsed = result["setup"]
    for epoch in result["epochs"]:
        elapsed += epoch["seconds"]
        if epoch["acc"] >= target:
            return elapsed
    return None


def summarize(runs, targets):
    """One row of figures per recipe (see the module's docstring)."""
    rows = {}
    for recipe, results in runs.items():
        reach = [time_to_reach(r, target) for r, target in zip(results, targets)]
        rows[recipe] = {
            "samples/s": statistics.median(r["samples"] / e["seconds"] for r in results for e in r["epochs"]),
            "s/epoch": statistics.median(e["seconds"] for r in results for e in r["epochs"]),
            "samples/CPU s": statistics.median(r["samples"] / e["cpu"] for r in results for e in r["epochs"]),
            "peak MB": max(r["peak_mb"] for r in results),
            "test acc": statistics.median(r["epochs"][-1]["acc"] for r in results),
            "s to seed acc": statistics.median(reach) if None not in reach else None,
            "reached": sum(t is not None for t in reach),
        }
    return rows


def print_table(rows, repeats):
    a = rows["seed"]
    print(
        "| recipe | samples/s | s/epoch | samples/CPU s | peak MB | test acc | s to seed acc | samples/s vs (a) "
        "| samples/CPU s vs (a) | less time to seed acc than (a) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for recipe, row in rows.items():
        if row["s to seed acc"] is None:
            reach = less = f"reached in {row['reached']} of {repeats}"
        else:
            reach, less = f"{row['s to seed acc']:.1f}", f"{a['s to seed acc'] / row['s to seed acc']:.1f}x"
        print(
            f"| {RECIPES[recipe]} | {row['samples/s']:.0f} | {row['s/epoch']:.2f} | {row['samples/CPU s']:.0f} | "
            f"{row['peak MB']:.0f} | {row['test acc']:.4f} | {reach} | {row['samples/s'] / a['samples/s']:.1f}x | "
            f"{row['samples/CPU s'] / a['samples/CPU s']:.1f}x | {less} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads in each process (default 1)")
    parser.add_argument(
        "--rows",
        choices=["both", "seed", "data"],
        help="embedding size(s): the seed's 95,812 rows, the data's len(vocab), or both (default; --smoke: data)",
    )
    parser.add_argument("--limit", type=int, default=None, help="use only this many training items")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--smoke", action="store_true", help="smallest setting: 1 epoch, 64 items, 1 repeat, the data's vocabulary"
    )
    parser.add_argument("--child", choices=list(RECIPES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.epochs, args.repeats, args.limit, args.rows = 1, 1, 64, args.rows or "data"
    if args.child:
        return child(args)

    sizes = ["seed", "data"] if args.rows in (None, "both") else [args.rows]
    runs = {size: {recipe: [] for recipe in RECIPES} for size in sizes}
    for repeat in range(args.repeats):
        for size in sizes:
            for recipe in RECIPES:
                command = [sys.executable, __file__, "--child", recipe, "--rows", size]
                command += ["--epochs", str(args.epochs), "--seed", str(repeat), "--threads", str(args.threads)]
                command += ["--limit", str(args.limit)] if args.limit else []
                output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                last = json.loads(output.strip().splitlines()[-1])
                runs[size][recipe].append(last)
                print(
                    f"repeat {repeat + 1}/{args.repeats}, {last['rows']:,} rows, {RECIPES[recipe]}: "
                    f"epochs {[round(e['seconds'], 2) for e in last['epochs']]} s "
                    f"(CPU {[round(e['cpu'], 2) for e in last['epochs']]} s), "
                    f"test acc {[round(e['acc'], 4) for e in last['epochs']]}",
                    flush=True,
                )

    first = runs[sizes[0]]["seed"][0]
    print(
        f"\n{first['samples']} training items, {args.epochs} epochs, {args.repeats} repeats, "
        f"{first['threads']} thread(s) per process (--threads {args.threads}), device {first['device']} "
        f"({os.cpu_count()} CPU cores), torch {torch.__version__}"
    )
    for size in sizes:
        # Time to reach the seed's final accuracy, paired by repeat (same seed, same data order for the seed).
        targets = [r["epochs"][-1]["acc"] for r in runs[size]["seed"]]
        whose = "the seed's" if size == "seed" else "this data's vocabulary"
        print(
            f"\nEmbedding of {runs[size]['seed'][0]['rows']:,} rows ({whose}); "
            f"seed's final test accuracy in each repeat: {', '.join(f'{t:.4f}' for t in targets)}\n"
        )
        print_table(summarize(runs[size], targets), args.repeats)


if __name__ == "__main__":
    main()
