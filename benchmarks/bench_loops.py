"""Time the seed course's training recipe against the course's loops, side by side.

    python benchmarks/bench_loops.py                # the full comparison (under 4 minutes on 2 CPU cores)
    python benchmarks/bench_loops.py --smoke        # the smallest setting (what CI runs)

Both recipes train the same model (Embedding(95,812 x 64) -> LSTM(64 -> 32) ->
Linear(32 -> 4), the seed's sizes) on the same data: AG News' 7,600-item test
split, split into 6,000 train / 1,600 test items exactly as torchnlp's quick
mode does (the train split is not on our machines). The embedding has the seed's
95,812 rows although this data uses fewer, so that the optimizer does the seed's
work at each step.

(a) seed: tokenize and encode inside the collate function at every batch, random
    batches of 16, padded (not packed) input, Adam (lr 1e-3) over every parameter,
    and its loop, which adds each batch's loss tensor to a running total (so the
    autograd graphs of the whole epoch stay alive).
(b) course: encode once, batches of 128 texts of similar length, each read
    up to its real end (torchnlp.rnn_padded on the CPU), a sparse embedding
    gradient with SparseAdam for the embedding and Adam for the rest (both lr
    1e-2, torchnlp.make_adam), torchnlp.train_epoch / evaluate.

Each recipe runs in its own process (so that peak memory is its own), the two
alternating, ``--repeats`` times. Printed: samples/s (median over all epochs of
all repeats), wall time per epoch (median), peak memory (max RSS; on CUDA, peak
allocated), test accuracy after the last epoch (median over repeats), the time
to reach the seed's final test accuracy of the same repeat (training time plus
one-off encoding; median over repeats), and the ratios (b)/(a).
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


def load_data(limit):
    """AG News sample as torchnlp's quick mode splits it: (train, test, vocab)."""
    os.environ["TORCHNLP_QUICK"] = "1"  # this process only: read the 7,600-item sample
    train, test, _, vocab = torchnlp.load_dataset("ag_news")
    return train[:limit], test[: limit // 4 if limit else None], vocab


def run_seed(args, train, test, vocab, device):
    """Recipe (a): the seed course's classifier, collate function and loop."""

    class SeedLSTMClassifier(torch.nn.Module):
        def __init__(self, vocab_size, embed_dim, hidden_dim, num_class):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab_size, embed_dim)
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

    def train_epoch(net, loader, optimizer):
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

    model = SeedLSTMClassifier(SEED_VOCAB_SIZE, 64, 32, 4).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = torch.utils.data.DataLoader(
        train, batch_size=16, collate_fn=padify, shuffle=True, generator=generator
    )
    # torchnlp.evaluate reads (x, y) batches: inputs first; the seed's own loop reads (labels, features).
    test_loader = torch.utils.data.DataLoader(test, batch_size=16, collate_fn=lambda batch: padify(batch)[::-1])
    epochs = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        train_epoch(model, train_loader, optimizer)
        sync(device)
        seconds = time.perf_counter() - start
        epochs.append({"seconds": seconds, "acc": torchnlp.evaluate(model, test_loader, progress=False)["acc"]})
    return {"setup": 0.0, "epochs": epochs}


def run_course(args, train, test, vocab, device):
    """Recipe (b): the course's loops as the lessons use them."""
    start = time.perf_counter()
    train_data, test_data = torchnlp.encode_dataset(train, vocab), torchnlp.encode_dataset(test, vocab)
    setup = time.perf_counter() - start
    model = torchnlp.RNNClassifier(SEED_VOCAB_SIZE, 4, embed_dim=64, hidden_dim=32, sparse=True).to(device)
    optimizer = torchnlp.make_adam(model, lr=1e-2)
    train_loader = torchnlp.make_loader(train_data, batch_size=128, seed=args.seed)
    test_loader = torchnlp.make_loader(test_data, batch_size=256, shuffle=False)
    epochs = []
    for _ in range(args.epochs):
        stats = torchnlp.train_epoch(model, train_loader, optimizer, progress=False)
        sync(device)
        epochs.append(
            {"seconds": stats["seconds"], "acc": torchnlp.evaluate(model, test_loader, progress=False)["acc"]}
        )
    return {"setup": setup, "epochs": epochs}


def sync(device):
    """Wait for queued GPU work, so that timings include it (nothing to do on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def child(args):
    """Run one recipe in this process and print its results as JSON."""
    torchnlp.seed_everything(args.seed)
    device = torchnlp.get_device()
    train, test, vocab = load_data(args.limit)
    result = {"seed": run_seed, "course": run_course}[args.child](args, train, test, vocab, device)
    result["samples"] = len(train)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="use only this many training items")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="smallest setting: 1 epoch, 300 items, 1 repeat")
    parser.add_argument("--child", choices=["seed", "course"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.epochs, args.repeats, args.limit = 1, 1, 300
    if args.child:
        return child(args)

    runs = {"seed": [], "course": []}
    for repeat in range(args.repeats):
        for recipe in runs:
            command = [sys.executable, __file__, "--child", recipe, "--epochs", str(args.epochs), "--seed", str(repeat)]
            command += ["--limit", str(args.limit)] if args.limit else []
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs[recipe].append(json.loads(output.strip().splitlines()[-1]))
            last = runs[recipe][-1]
            print(
                f"repeat {repeat + 1}/{args.repeats} {recipe:6s}: "
                f"epochs {[round(e['seconds'], 1) for e in last['epochs']]} s, "
                f"test acc {[round(e['acc'], 4) for e in last['epochs']]}",
                flush=True,
            )

    # Time to reach the seed's final accuracy, paired by repeat (same seed, same data order for the seed).
    targets = [r["epochs"][-1]["acc"] for r in runs["seed"]]
    rows = {}
    for recipe, results in runs.items():
        reach = [time_to_reach(r, target) for r, target in zip(results, targets)]
        rows[recipe] = {
            "samples/s": statistics.median(r["samples"] / e["seconds"] for r in results for e in r["epochs"]),
            "s/epoch": statistics.median(e["seconds"] for r in results for e in r["epochs"]),
            "peak MB": max(r["peak_mb"] for r in results),
            "test acc": statistics.median(r["epochs"][-1]["acc"] for r in results),
            "s to seed acc": statistics.median(reach) if None not in reach else None,
        }
    a, b = rows["seed"], rows["course"]
    print(
        f"\n{results[0]['samples']} training items, {args.epochs} epochs, {args.repeats} repeats, "
        f"device {results[0]['device']} ({os.cpu_count()} CPU cores); "
        f"seed's final test accuracy in each repeat: {', '.join(f'{t:.4f}' for t in targets)}\n"
    )
    print("| recipe | samples/s | s/epoch | peak MB | test acc | s to seed acc |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in (("(a) seed", a), ("(b) course", b)):
        reach = f"{row['s to seed acc']:.1f}" if row["s to seed acc"] is not None else "not reached"
        print(
            f"| {name} | {row['samples/s']:.0f} | {row['s/epoch']:.1f} | {row['peak MB']:.0f} | "
            f"{row['test acc']:.4f} | {reach} |"
        )
    speed = b["samples/s"] / a["samples/s"]
    reach = (
        f"{a['s to seed acc'] / b['s to seed acc']:.1f}x less time to reach the seed's accuracy"
        if b["s to seed acc"] is not None
        else "(b) did not reach the seed's accuracy in every repeat"
    )
    print(
        f"| (b)/(a) | {speed:.1f}x | {b['s/epoch'] / a['s/epoch']:.3f} | {b['peak MB'] / a['peak MB']:.2f} | "
        f"{b['test acc'] - a['test acc']:+.4f} | {reach} |"
    )


if __name__ == "__main__":
    main()
