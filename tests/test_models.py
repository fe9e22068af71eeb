"""Models, training loops, evaluation, plots and character generation."""

import copy
import math
import random
import warnings
import weakref

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import torchnlp

matplotlib.use("Agg")


def toy_task(n=256, seed=0):
    """(ids, label) items: label 1 when token 3 occurs in ids, else 0; lengths 2..12, vocabulary 0..9."""
    g = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(n):
        ids = torch.randint(4, 10, (int(torch.randint(2, 13, (), generator=g)),), generator=g)
        label = int(torch.rand((), generator=g) < 0.5)
        if label:
            ids[torch.randint(0, len(ids), (), generator=g)] = 3
        data.append((ids, label))
    return data


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
def test_classifier_shapes(cell, layers, bidirectional):
    model = torchnlp.RNNClassifier(
        20, 4, embed_dim=8, hidden_dim=6, cell=cell, num_layers=layers, bidirectional=bidirectional, dropout=0.1
    )
    x, lengths, labels = torchnlp.pad_length(toy_task(5))
    assert model(x).shape == (5, 4)
    assert model(x, lengths).shape == (5, 4)
    assert model.fc.in_features == 6 * (2 if bidirectional else 1)
    assert model.embedding.padding_idx == 0
    assert model.rnn.dropout == (0.1 if layers > 1 else 0.0)  # between layers (none after the last)
    assert torchnlp.CharLSTM(20, num_layers=layers, dropout=0.1).rnn.dropout == (0.1 if layers > 1 else 0.0)


def test_models_check_their_sizes_and_inputs():
    with pytest.raises(ValueError, match="vocab_size must be at least 1"):
        torchnlp.RNNClassifier(0, 2)
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        torchnlp.RNNClassifier(torchnlp.Vocab.build(["a b"]), 2)  # len(vocab) was meant
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        torchnlp.RNNClassifier(10, 0)  # gave (B, 0) logits
    with pytest.raises(TypeError, match="num_classes must be an int"):
        torchnlp.RNNClassifier(10, ["neg", "pos"])
    with pytest.raises(ValueError, match="vocab_size must be at least 1"):
        torchnlp.CharLSTM(0)
    classifier = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    char_model = torchnlp.CharLSTM(10, embed_dim=4, hidden_dim=4)
    for model in (classifier, char_model):
        for bad in (torch.tensor([[2, 30]]), torch.tensor([[-1, 2]])):
            with pytest.raises(ValueError, match=r"x holds ids .* outside 0\.\.9.*vocab_size=len\(vocab\)"):
                model(bad)  # "index out of range in self" from nn.Embedding before
        with pytest.raises(TypeError, match=r"x must be a \(B, T\) tensor of integer ids .*x\[None\]"):
            model(torch.tensor([2, 3, 4]))
        for bad in (torch.rand(2, 3), [[2, 3]]):
            with pytest.raises(TypeError, match=r"x must be a \(B, T\) tensor of integer ids"):
                model(bad)


def test_classifier_bad_cell():
    with pytest.raises(ValueError, match="cell"):
        torchnlp.RNNClassifier(10, 2, cell="transformer")


@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_batch_equals_each_sequence_alone(bidirectional):
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 3, embed_dim=5, hidden_dim=7, num_layers=2, bidirectional=bidirectional).eval()
    data = toy_task(6)
    x, lengths, _ = torchnlp.pad_length(data)
    batched = model(x, lengths)
    alone = torch.cat([model(ids[None]) for ids, _ in data])
    torch.testing.assert_close(batched, alone)
    # Without lengths the padding is read too, and the short sequences' results change.
    assert not torch.allclose(model(x), alone, atol=1e-4)


@pytest.mark.parametrize("kind", [torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (1, True), (3, True)])
def test_rnn_padded_equals_packing_outputs_states_and_gradients(kind, layers, bidirectional):
    torch.manual_seed(0)
    rnn = kind(5, 7, num_layers=layers, bidirectional=bidirectional, batch_first=True).double()
    lengths = torch.tensor([6, 2, 4, 1, 6, 3])  # mixed lengths, unsorted, one of length 1
    x = torch.randn(6, 6, 5, dtype=torch.double, requires_grad=True)
    output, h_n = torchnlp.rnn_padded(rnn, x, lengths)
    packed, ref_h = rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    ref_output, _ = pad_packed_sequence(packed, batch_first=True, total_length=6)
    ref_h = ref_h[0] if isinstance(ref_h, tuple) else ref_h
    torch.testing.assert_close(output, ref_output, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_n, ref_h, rtol=0, atol=1e-12)
    weights = torch.randn_like(output)  # a loss that reaches every output and state
    grads = torch.autograd.grad((output * weights).sum() + h_n.pow(2).sum(), [x, *rnn.parameters()])
    ref_grads = torch.autograd.grad((ref_output * weights).sum() + ref_h.pow(2).sum(), [x, *rnn.parameters()])
    for grad, ref in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref, rtol=0, atol=1e-10)
    # The plain padded run differs: its backward direction (or its final state) reads the padding.
    plain, _ = rnn(x)
    assert not torch.allclose(plain * (ref_output != 0), ref_output, atol=1e-6) or not bidirectional


def test_rnn_padded_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    rnn = torch.nn.GRU(4, 5, num_layers=2, dropout=0.5, batch_first=True)
    x, lengths = torch.randn(3, 4, 4), torch.tensor([4, 3, 1])
    rnn.eval()
    torch.testing.assert_close(torchnlp.rnn_padded(rnn, x, lengths)[0], torchnlp.rnn_padded(rnn, x, lengths)[0])
    rnn.train()
    assert not torch.allclose(torchnlp.rnn_padded(rnn, x, lengths)[0], torchnlp.rnn_padded(rnn, x, lengths)[0])


def test_rnn_padded_bad_input():
    x = torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match="batch_first"):
        torchnlp.rnn_padded(torch.nn.GRU(3, 4), x, torch.tensor([4, 2]))
    rnn = torch.nn.GRU(3, 4, batch_first=True)
    with pytest.raises(ValueError, match="2 sequences"):
        torchnlp.rnn_padded(rnn, x, torch.tensor([4]))
    with pytest.raises(ValueError, match=r"1\.\.4"):
        torchnlp.rnn_padded(rnn, x, torch.tensor([4, 0]))
    with pytest.raises(ValueError, match=r"1\.\.4"):
        torchnlp.rnn_padded(rnn, x, torch.tensor([5, 2]))
    with pytest.raises(ValueError, match="int64"):
        torchnlp.rnn_padded(rnn, x, torch.tensor([4, 2], dtype=torch.uint8))
    with pytest.raises(TypeError, match="rnn must be an nn.RNN, nn.LSTM or nn.GRU"):
        torchnlp.rnn_padded(torch.nn.Linear(3, 4), x, torch.tensor([4, 2]))


def test_reverse_padded_reverses_within_each_length():
    x = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0], [7, 0, 0, 0]])
    lengths = torch.tensor([4, 2, 1])
    assert torchnlp.reverse_padded(x, lengths).tolist() == [[4, 3, 2, 1], [6, 5, 0, 0], [7, 0, 0, 0]]
    features = torch.randn(3, 4, 2)
    torch.testing.assert_close(torchnlp.reverse_padded(torchnlp.reverse_padded(features, lengths), lengths), features)
    with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.4"):
        torchnlp.reverse_padded(x, torch.tensor([4, 0, 1]))  # a length of 0 left its sequence unreversed
    with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.4"):
        torchnlp.reverse_padded(x, torch.tensor([5, 2, 1]))


@pytest.mark.parametrize("pool", ["last", "max"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_classifier_padded_path_equals_packed_path(cell, pool):
    torch.manual_seed(0)
    packed = torchnlp.RNNClassifier(
        10, 3, embed_dim=5, hidden_dim=7, cell=cell, num_layers=2, bidirectional=True, pool=pool, pack=True
    ).eval()
    padded = torchnlp.RNNClassifier(
        10, 3, embed_dim=5, hidden_dim=7, cell=cell, num_layers=2, bidirectional=True, pool=pool, pack=False
    ).eval()
    padded.load_state_dict(packed.state_dict())
    x, lengths, _ = torchnlp.pad_length(toy_task(6))
    torch.testing.assert_close(padded(x, lengths), packed(x, lengths))
    assert torchnlp.RNNClassifier(10, 3).pack is None  # default: choose by device (packed only on CUDA)


def test_classifier_checks_lengths():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    x = torch.tensor([[3, 4, 5], [6, 7, 0]])
    for bad, message in [
        (torch.tensor([3]), "1 values for a batch of 2"),
        (torch.tensor([3, 0]), r"1\.\.3"),
        (torch.tensor([1, 1], dtype=torch.uint8), "int64"),
        (torch.tensor([True, True]), "int64"),
        ([3, 2], "tensor"),
    ]:
        with pytest.raises((ValueError, TypeError), match=message):
            model(x, bad)


@pytest.mark.parametrize("pack", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_max_pool_ignores_the_padding(pack, bidirectional):
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 3, embed_dim=5, hidden_dim=7, bidirectional=bidirectional, pool="max", pack=pack)
    model.eval()
    data = toy_task(6)
    x, lengths, _ = torchnlp.pad_length(data)
    alone = torch.cat([model(ids[None]) for ids, _ in data])
    with torch.no_grad():
        output, _ = model.rnn(model.embedding(data[0][0][None]))  # (1, T, D * H)
    torch.testing.assert_close(alone[:1], model.fc(output.amax(1)))
    torch.testing.assert_close(model(x, lengths), alone)
    assert model.fc.in_features == 7 * (2 if bidirectional else 1)


def test_classifier_bad_pool():
    with pytest.raises(ValueError, match="pool"):
        torchnlp.RNNClassifier(10, 2, pool="mean")


def test_training_lowers_the_loss():
    torchnlp.seed_everything(0)
    data = toy_task(512)
    loader = torchnlp.make_loader(data, batch_size=32)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=8, hidden_dim=16)
    before = torchnlp.evaluate(model, loader, progress=False)
    history = torchnlp.train(model, loader, loader, epochs=6, lr=0.02, verbose=False, progress=False)
    after = torchnlp.evaluate(model, loader, progress=False)
    assert after["loss"] < 0.5 * before["loss"]
    assert after["acc"] > 0.9
    assert set(history) == {"train_loss", "train_acc", "val_loss", "val_acc", "seconds", "best_epoch", "grad_norms"}
    assert all(len(v) == 6 for k, v in history.items() if k not in ("best_epoch", "grad_norms"))
    assert len(history["grad_norms"]) == 6 * len(loader) and all(n > 0 for n in history["grad_norms"])
    assert history["val_loss"][-1] == pytest.approx(after["loss"])
    assert history["best_epoch"] == 1 + min(range(6), key=history["val_loss"].__getitem__)


def test_train_restore_best_loads_the_epoch_with_the_lowest_validation_loss():
    torchnlp.seed_everything(0)
    train_loader = torchnlp.make_loader(toy_task(64), batch_size=16)
    val_loader = torchnlp.make_loader(toy_task(64, seed=1), batch_size=64, shuffle=False)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=8, hidden_dim=16)
    # lr 0.3 overshoots: the validation loss goes up and down, so the best epoch is rarely the last
    history = torchnlp.train(
        model, train_loader, val_loader, epochs=7, lr=0.3, restore_best=True, verbose=False, progress=False
    )
    best = history["best_epoch"]
    assert best < 7  # else this test would not show that an earlier epoch's weights come back
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    after = torchnlp.evaluate(model, val_loader, progress=False)
    assert after["loss"] == pytest.approx(min(history["val_loss"]))
    with pytest.raises(ValueError, match="val_loader"):
        torchnlp.train(model, train_loader, epochs=1, restore_best=True, progress=False)
    with pytest.raises(ValueError, match="not both"):
        torchnlp.train(model, train_loader, epochs=1, optimizer=torch.optim.SGD(model.parameters(), 0.1), lr=0.1)


def test_train_best_epoch_is_the_first_of_equal_validation_losses():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    loader = torchnlp.make_loader(toy_task(8), batch_size=8)
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)  # the same weights, the same loss, every epoch
    history = torchnlp.train(model, loader, loader, epochs=3, optimizer=frozen, verbose=False, progress=False)
    assert history["val_loss"][0] == history["val_loss"][2] and history["best_epoch"] == 1


def test_train_steps_the_scheduler_once_per_epoch():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.8)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    loader = torchnlp.make_loader(toy_task(16), batch_size=8)
    torchnlp.train(model, loader, epochs=3, optimizer=optimizer, scheduler=scheduler, verbose=False, progress=False)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


def test_seed_everything_repeats_python_and_torch_draws():
    def draws():
        return random.random(), torch.rand(3).tolist(), torch.randint(0, 100, (3,)).tolist()

    torchnlp.seed_everything(3)
    first = draws()
    torchnlp.seed_everything(3)
    assert draws() == first
    torchnlp.seed_everything(4)
    assert draws() != first


def test_seed_everything_seeds_torch():
    torch.rand(5)  # the generator is somewhere else than where seed 3 puts it
    torchnlp.seed_everything(3)
    drawn = torch.rand(3)
    torch.manual_seed(3)
    assert torch.equal(drawn, torch.rand(3))


def test_seed_everything_seeds_python_random():
    random.random()
    torchnlp.seed_everything(3)
    drawn = [random.random() for _ in range(3)]
    random.seed(3)
    assert drawn == [random.random() for _ in range(3)]


def test_get_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert torchnlp.get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert torchnlp.get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert torchnlp.get_device() == torch.device("cuda")


def test_clock_reads_cpu_time_on_a_cpu_without_waiting_for_a_device(monkeypatch):
    waited = []
    monkeypatch.setattr(torch.accelerator, "synchronize", lambda device=None: waited.append(device))
    monkeypatch.setattr(torchnlp.time, "process_time", lambda: 12.5)
    monkeypatch.setattr(torchnlp.time, "perf_counter", lambda: 99.0)
    assert torchnlp.clock("cpu") == 12.5
    assert torchnlp.clock(torch.device("cpu")) == 12.5
    assert waited == []


def test_clock_waits_for_the_gpu_then_reads_the_wall_clock(monkeypatch):
    events = []
    monkeypatch.setattr(torch.accelerator, "synchronize", lambda device=None: events.append(("wait", device)))
    monkeypatch.setattr(torchnlp.time, "perf_counter", lambda: events.append(("read", None)) or 99.0)
    monkeypatch.setattr(torchnlp.time, "process_time", lambda: 12.5)
    assert torchnlp.clock("cuda") == 99.0
    assert events == [("wait", torch.device("cuda")), ("read", None)]  # the reading comes after the wait


def test_clock_counts_cpu_work_and_refuses_a_bad_device():
    start = torchnlp.clock("cpu")
    sum(range(2_000_000))  # some 20-50 ms of CPU work
    assert torchnlp.clock("cpu") - start > 0.001
    with pytest.raises(ValueError, match="device"):
        torchnlp.clock("gpu0")


def test_cross_entropy_takes_the_classes_on_the_last_axis():
    torch.manual_seed(0)
    logits, labels = torch.randn(2, 5, 7), torch.randint(0, 7, (2, 5))  # a language model's (B, T, V), (B, T)
    expected = F.cross_entropy(logits.permute(0, 2, 1), labels)  # PyTorch's own layout: (B, V, T)
    torch.testing.assert_close(torchnlp.cross_entropy(logits, labels), expected)
    torch.testing.assert_close(
        torchnlp.cross_entropy(logits[:, 0], labels[:, 0]), F.cross_entropy(logits[:, 0], labels[:, 0])
    )


def test_evaluate_changes_no_weight_and_restores_mode():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4, dropout=0.5)
    weights = copy.deepcopy(model.state_dict())
    loader = torchnlp.make_loader(toy_task(40), batch_size=8)
    first = torchnlp.evaluate(model, loader, progress=False)
    second = torchnlp.evaluate(model, loader, progress=False)
    assert first["loss"] == pytest.approx(second["loss"])  # eval mode: dropout off
    assert model.training
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_mean_loss_and_accuracy_are_over_items_not_batches():
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4).eval()
    data = toy_task(37)
    stats = torchnlp.evaluate(model, torchnlp.make_loader(data, batch_size=8, shuffle=False), progress=False)
    x, lengths, labels = torchnlp.pad_length(data)
    with torch.no_grad():
        logits = model(x, lengths)
    assert stats["samples"] == 37
    assert stats["loss"] == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-5)
    assert stats["acc"] == pytest.approx((logits.argmax(1) == labels).float().mean().item())


class Mark(torch.autograd.Function):
    """The identity, as an autograd node that is a Python object: a weak reference to it says whether
    something still holds the graph it belongs to (PyTorch's own nodes cannot be weakly referenced)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad


class Recorder(torch.nn.Module):
    """Wraps a model; records, at each call, the rows of x, whether autograd was on, and (with autograd)
    a weak reference to the output's node, alive as long as something keeps that batch's graph."""

    def __init__(self, model):
        super().__init__()
        self.model, self.rows, self.grad_enabled, self.nodes = model, [], [], []

    def forward(self, x, *rest):
        self.rows.append(len(x))
        self.grad_enabled.append(torch.is_grad_enabled())
        out = self.model(x, *rest)
        logits, others = (out[0], out[1:]) if isinstance(out, tuple) else (out, None)
        if torch.is_grad_enabled():
            logits = Mark.apply(logits)
            self.nodes.append(weakref.ref(logits.grad_fn))
        return logits if others is None else (logits, *others)


@pytest.mark.parametrize("padded", [True, False])
def test_epoch_size_is_exact(padded):
    if padded:  # (x, lengths, y) batches of 32
        model = Recorder(torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4))
        loader = torchnlp.make_loader(toy_task(100), batch_size=32, shuffle=False)
    else:  # (x, y) batches of 32 character windows
        model = Recorder(torchnlp.CharLSTM(10, embed_dim=4, hidden_dim=4))
        loader = torch.utils.data.DataLoader(torchnlp.char_dataset(torch.arange(10).repeat(70), 5), batch_size=32)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    stats = torchnlp.train_epoch(model, loader, opt, epoch_size=40, progress=False)
    assert stats["samples"] == 40 and model.rows == [32, 8]  # the second batch is cut to 8 (it overshot to 64)


def test_running_loss_keeps_no_graph():
    model = Recorder(torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4))
    alive = []

    def loss_fn(out, y):  # called once per batch: how many graphs of the batches before the last one live on?
        alive.append(sum(ref() is not None for ref in model.nodes[:-2]))
        return torchnlp.cross_entropy(out, y)

    loader = torchnlp.make_loader(toy_task(80), batch_size=8)
    stats = torchnlp.train_epoch(
        model, loader, torch.optim.SGD(model.parameters(), 0.1), loss_fn=loss_fn, progress=False
    )
    assert len(alive) == 10 and alive == [0] * 10
    assert isinstance(stats["loss"], float) and isinstance(stats["acc"], float)


def test_grad_norms_are_measured_before_clipping():
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    x, lengths, y = torchnlp.pad_length(toy_task(8))
    torchnlp.cross_entropy(model(x, lengths), y).backward()
    expected = torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item()
    model.zero_grad()
    loader = [(x, lengths, y)]
    stats = torchnlp.train_epoch(model, loader, torch.optim.SGD(model.parameters(), lr=0.0), clip=1e-3, progress=False)
    assert stats["grad_norms"] == [pytest.approx(expected, rel=1e-5)]
    clipped = torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item()
    assert clipped == pytest.approx(1e-3, rel=1e-3)  # the step used the clipped gradient
    assert torchnlp.train_epoch(model, loader, torch.optim.SGD(model.parameters(), lr=0.0), progress=False)[
        "grad_norms"
    ] == [pytest.approx(expected, rel=1e-5)]


def test_evaluation_runs_without_autograd():
    model = Recorder(torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4))
    torchnlp.evaluate(model, torchnlp.make_loader(toy_task(20), batch_size=8), progress=False)
    vocab = torchnlp.Vocab.build(["a b c d e f g h"])
    torchnlp.predict(model, ["a b", "c"], vocab)
    assert model.grad_enabled == [False] * 4
    char_model = Recorder(torchnlp.CharLSTM(5, embed_dim=4, hidden_dim=4))
    torchnlp.evaluate_text(char_model, torch.arange(5).repeat(8), batch_size=2, seq_len=10)
    torchnlp.generate(char_model, "ab", torchnlp.char_vocab("abcde"), length=3)
    assert char_model.grad_enabled and not any(char_model.grad_enabled)
    loader = torchnlp.make_loader(toy_task(8), batch_size=8)
    torchnlp.train_epoch(model, loader, torch.optim.SGD(model.parameters(), 0.1), progress=False)
    assert model.grad_enabled[-1] is True


def test_loop_arguments_are_checked():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    loader = torchnlp.make_loader(toy_task(20), batch_size=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    cases = [
        (TypeError, "optimizer must be an optimizer, e.g. torchnlp.make_adam", dict(optimizer=0.001)),
        (TypeError, "optimizer must be an optimizer", dict(optimizer=torch.optim.Adam)),
        (TypeError, "loader must be a DataLoader", dict(loader=0.01)),
        (TypeError, "each batch must be tensors .*not over the data set", dict(loader=toy_task(4))),
        (TypeError, "each batch must be tensors", dict(loader=[(0, "good film")])),
        (ValueError, "inputs first and target last", dict(loader=[(y, x, n) for x, n, y in loader])),
        (ValueError, "clip must be positive", dict(clip=-1)),  # gradient ascent before
        (TypeError, "clip must be a number", dict(clip="1")),
        (TypeError, "epoch_size must be an int", dict(epoch_size=10.5)),
        (ValueError, "epoch_size must be at least 1", dict(epoch_size=0)),
    ]
    for error, message, kwargs in cases:
        args = dict(loader=loader, optimizer=opt, progress=False) | kwargs
        with pytest.raises(error, match=message):
            torchnlp.train_epoch(model, args.pop("loader"), args.pop("optimizer"), **args)
    for kwargs in (dict(lr=0.001), dict(optimizer=opt, lr=0.5)):  # the seed's train_epoch(net, loader, lr=...)
        with pytest.raises(TypeError, match=r"make_adam\(model, lr\).*torchnlp.train\(model, loader"):
            torchnlp.train_epoch(model, loader, **kwargs)
    with pytest.raises(TypeError, match="train_epoch.*report_freq"):
        torchnlp.train_epoch(model, loader, opt, report_freq=200)
    with pytest.raises(TypeError, match="evaluate.*clip"):
        torchnlp.evaluate(model, loader, clip=1.0)  # was silently ignored


def test_train_arguments_are_checked():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    loader = torchnlp.make_loader(toy_task(20), batch_size=8)
    for error, message, kwargs in [
        (ValueError, "epochs must be at least 1", dict(epochs=0)),  # returned an empty history
        (TypeError, "epochs must be an int", dict(epochs=2.5)),
        (ValueError, "lr must be positive", dict(lr=0)),  # trained nothing
        (ValueError, "lr must be positive", dict(lr=-0.1)),
        (TypeError, "lr must be a number", dict(lr="0.01")),
        (TypeError, "val_loader must be a DataLoader or None", dict(val_loader=0.01)),  # train(model, loader, 0.01)
        (TypeError, "scheduler must be a learning-rate scheduler", dict(scheduler=0.5)),
    ]:
        with pytest.raises(error, match=message):
            torchnlp.train(model, loader, verbose=False, progress=False, **kwargs)
    with pytest.raises(TypeError, match="train_epoch.*report_freq"):
        torchnlp.train(model, loader, verbose=False, report_freq=5)


def test_gradient_clipping_bounds_the_update():
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    before = [p.detach().clone() for p in model.parameters()]
    loader = torchnlp.make_loader(toy_task(8), batch_size=8)
    torchnlp.train_epoch(model, loader, torch.optim.SGD(model.parameters(), lr=1.0), clip=1e-3, progress=False)
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])
    assert step.norm() <= 1e-3 * 1.0001


def test_labels_out_of_range_raise():
    model = torchnlp.RNNClassifier(10, 4, embed_dim=4, hidden_dim=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for labels, hint in [
        ([-1, 2], "labels are already 0-based here .* do not subtract 1"),  # the seed course's label - 1
        ([1, 4], "these look like 1-based labels"),
        ([0, 7], r"got 0\.\.7$"),
    ]:
        data = [(torch.tensor([4, 5]), labels[0]), (torch.tensor([6]), labels[1])]
        with pytest.raises(ValueError, match=rf"targets must lie in 0\.\.3 .*{hint}"):
            torchnlp.train_epoch(model, torchnlp.make_loader(data, batch_size=2), opt, progress=False)


def test_empty_loader_raises():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    with pytest.raises(ValueError, match="no batch"):
        torchnlp.evaluate(model, [], progress=False)


def test_plot_history_needs_a_history():
    for bad in ({}, {"loss": 0.5, "acc": 0.8, "samples": 10, "seconds": 1.0}, [0.5]):
        with pytest.raises(ValueError, match="history must be what train.. returns"):
            torchnlp.plot_history(bad)


def test_plot_history():
    history = {"train_loss": [1.0, 0.5], "train_acc": [0.5, 0.8], "val_loss": [0.9, 0.7], "val_acc": [0.6, 0.7]}
    fig = torchnlp.plot_history(history, title="toy")
    assert len(fig.axes) == 2
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert fig.axes[1].lines[1].get_ydata().tolist() == [0.6, 0.7]
    fig = torchnlp.plot_history({"train_loss": [1.0], "train_acc": [0.5]})
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]


def test_predict_reads_each_text_up_to_its_length():
    torch.manual_seed(0)
    words = [f"w{i}" for i in range(12)]
    vocab = torchnlp.Vocab.build([" ".join(words)])
    model = torchnlp.RNNClassifier(len(vocab), 7, embed_dim=6, hidden_dim=8, dropout=0.5)
    texts = [" ".join(words[i : i + n]) for i, n in enumerate([1, 12, 3, 2, 8, 1, 5, 4, 2, 6, 11, 1])] + ["", "zz"]
    with torch.no_grad():
        alone = [int(model.eval()(torch.tensor([vocab.encode(t) or [vocab.unk_index]])).argmax()) for t in texts]
        x, lengths, _ = torchnlp.pad_length(torchnlp.encode_dataset([(0, t) for t in texts], vocab))
        assert model(x).argmax(-1).tolist() != alone  # reading the padding changes some predictions
    model.train()
    assert torchnlp.predict(model, texts, vocab) == alone  # in eval mode: no dropout
    assert model.training
    assert torchnlp.predict(model, [], vocab) == []
    with pytest.raises(TypeError, match="texts come before the vocabulary"):
        torchnlp.predict(model, vocab, texts)
    with pytest.raises(TypeError, match=r"for one text, pass \[text\]"):
        torchnlp.predict(model, "one text", vocab)  # gave one prediction per character


def test_predict_and_generate_restore_the_mode_also_on_errors():
    vocab = torchnlp.Vocab.build(["a b c d e"])
    model = torchnlp.RNNClassifier(3, 2, embed_dim=4, hidden_dim=4).train()  # too few rows for the vocabulary
    with pytest.raises(ValueError, match="x holds ids"):
        torchnlp.predict(model, ["a e"], vocab)
    assert model.training
    chars = torchnlp.char_vocab("abcde")
    char_model = torchnlp.CharLSTM(len(chars), embed_dim=4, hidden_dim=4).train()
    assert len(torchnlp.generate(char_model, "ab", chars, length=3)) == 5 and char_model.training
    too_big = torchnlp.CharLSTM(len(chars) + 3, embed_dim=4, hidden_dim=4).train()
    with pytest.raises(ValueError, match="the model has 8 outputs but vocab has 5 tokens"):
        torchnlp.generate(too_big, "ab", chars, length=3)
    assert too_big.training


def test_count_parameters():
    model = torchnlp.RNNClassifier(5, 2, embed_dim=3, hidden_dim=2)
    # embedding 5*3, LSTM 4*2*(3+2) + 2*4*2 biases, linear 2*2 + 2
    assert torchnlp.count_parameters(model) == 15 + 40 + 16 + 6


def test_char_dataset_pairs_are_shifted_by_one():
    ids = torch.arange(10)
    data = torchnlp.char_dataset(ids, 4)
    assert len(data) == 2
    inputs, target = data[1]  # inputs first, target last
    assert inputs.tolist() == [4, 5, 6, 7] and target.tolist() == [5, 6, 7, 8]
    with pytest.raises(ValueError, match="too short"):
        torchnlp.char_dataset(torch.arange(3), 4)
    with pytest.raises(ValueError, match="seq_len"):
        torchnlp.char_dataset(ids, 0)
    with pytest.raises(TypeError, match="seq_len must be an int"):
        torchnlp.char_dataset(ids, 2.5)
    for bad in (list(range(10)), ids.view(5, 2), ids.float()):
        with pytest.raises(TypeError, match="ids must be a 1-D tensor of integer ids"):
            torchnlp.char_dataset(bad, 2)


def test_softmax_with_temperature():
    logits = torch.tensor([1.0, 1.0, 3.0])
    p = torchnlp.softmax_with_temperature(logits, 1.0)
    torch.testing.assert_close(p, F.softmax(logits, -1))
    cold, hot = torchnlp.softmax_with_temperature(logits, 0.1), torchnlp.softmax_with_temperature(logits, 10.0)
    assert cold[2] > p[2] > hot[2] > 1 / 3
    huge = torchnlp.softmax_with_temperature(torch.tensor([1000.0, 999.0, -1000.0]), 0.5)
    assert torch.isfinite(huge).all() and huge.sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="temperature"):
        torchnlp.softmax_with_temperature(logits, 0.0)
    with pytest.raises(TypeError, match="temperature must be a number"):
        torchnlp.softmax_with_temperature(logits, None)


def test_char_lstm_learns_and_generates():
    torchnlp.seed_everything(0)
    text = "abcd" * 200
    vocab = torchnlp.char_vocab(text)
    data = torchnlp.char_dataset(torch.tensor(vocab.encode(text)), 16)
    loader = torch.utils.data.DataLoader(data, batch_size=10, shuffle=True)
    model = torchnlp.CharLSTM(len(vocab), embed_dim=8, hidden_dim=32)
    logits, (h, c) = model(next(iter(loader))[0])
    assert logits.shape == (10, 16, 4) and h.shape == c.shape == (1, 10, 32)
    torchnlp.train(model, loader, epochs=15, lr=0.02, verbose=False, progress=False)
    assert torchnlp.generate(model, "ab", vocab, length=10, temperature=None) == "abcdabcdabcd"
    g = torch.Generator().manual_seed(0)
    sampled = torchnlp.generate(model, "a", vocab, length=30, temperature=1.0, generator=g)
    again = torchnlp.generate(model, "a", vocab, length=30, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert sampled == again and len(sampled) == 31 and set(sampled) <= set("abcd")
    with pytest.raises(ValueError, match="prefix"):
        torchnlp.generate(model, "", vocab, length=5)
    with pytest.raises(ValueError, match="prefix: 'x' is not in the vocabulary"):
        torchnlp.generate(model, "xyz", vocab, length=5)


class Counter(torch.nn.Module):
    """A language model that predicts character ``n % V`` after reading ``n`` characters: its state is ``n``."""

    def __init__(self, size):
        super().__init__()
        self.size, self.dummy = size, torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, state=None):
        read = (0 if state is None else state) + torch.arange(1, x.size(1) + 1)  # (T,) characters read so far
        return F.one_hot(read % self.size, self.size).float().expand(len(x), -1, -1), read[-1]


def test_generate_carries_the_state_from_character_to_character():
    vocab = torchnlp.char_vocab("abcde")
    assert torchnlp.generate(Counter(5), "ab", vocab, length=7, temperature=None) == "ab" + vocab.decode(
        [2, 3, 4, 0, 1, 2, 3]
    )


def test_generate_bad_arguments():
    vocab = torchnlp.char_vocab("abcd")
    model = torchnlp.CharLSTM(len(vocab), embed_dim=4, hidden_dim=4)
    for error, message, kwargs in [
        (TypeError, "length must be an int", dict(length=3.0)),
        (ValueError, "length must be at least 0", dict(length=-1)),
        (TypeError, "temperature must be a number", dict(temperature="hot")),
        (ValueError, "temperature must be positive", dict(temperature=-1)),
        (ValueError, "temperature must be positive", dict(temperature=-1, length=0)),  # checked before any step
    ]:
        with pytest.raises(error, match=message):
            torchnlp.generate(model, "ab", vocab, **kwargs)
    with pytest.raises(TypeError, match="prefix comes before the vocabulary"):
        torchnlp.generate(model, vocab, "ab")
    with pytest.raises(TypeError, match="vocab must be the model's Vocab"):
        torchnlp.generate(model, "ab", "abcd")
    with pytest.raises(TypeError, match=r"generate needs a language model .*returned Tensor \(1, 2\)"):
        torchnlp.generate(torchnlp.RNNClassifier(len(vocab), 2), "ab", vocab)


def test_make_adam_updates_only_used_rows_of_a_sparse_embedding():
    torch.manual_seed(0)
    dense = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    assert isinstance(torchnlp.make_adam(dense), torch.optim.Adam)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4, sparse=True)
    optimizer = torchnlp.make_adam(model, lr=0.1)
    assert isinstance(optimizer, torchnlp.MultiOptimizer)
    before = model.embedding.weight.detach().clone()
    rnn_before = model.rnn.weight_hh_l0.detach().clone()
    loader = torchnlp.make_loader([(torch.tensor([3, 4]), 0), (torch.tensor([5]), 1)], batch_size=2)
    torchnlp.train_epoch(model, loader, optimizer, clip=1.0, progress=False)  # clipping skips the sparse gradient
    changed = (model.embedding.weight.detach() != before).any(dim=1).nonzero().flatten().tolist()
    assert changed == [3, 4, 5]
    assert not torch.equal(model.rnn.weight_hh_l0, rnn_before)
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(TypeError, match="make_adam takes the model"):
        torchnlp.make_adam(model.parameters())  # as torch.optim.Adam(net.parameters()) is called


def test_make_adam_falls_back_to_dense_gradients_where_sparse_ones_fail(monkeypatch):
    """Apple's MPS backend has no sparse tensors. There is no MPS device here, so the device check is stubbed."""
    assert torchnlp.supports_sparse_gradients(torch.device("mps")) is False
    assert torchnlp.supports_sparse_gradients("cpu") and torchnlp.supports_sparse_gradients("cuda:0")
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4, sparse=True)
    seen = []
    monkeypatch.setattr(torchnlp, "supports_sparse_gradients", lambda device: seen.append(device) or False)
    with pytest.warns(UserWarning, match="sparse gradients are not supported on cpu"):
        optimizer = torchnlp.make_adam(model, lr=0.1)
    assert seen == [model.embedding.weight.device]
    assert isinstance(optimizer, torch.optim.Adam) and not model.embedding.sparse
    assert sum(p.numel() for group in optimizer.param_groups for p in group["params"]) == sum(
        p.numel() for p in model.parameters()
    )
    loader = torchnlp.make_loader([(torch.tensor([3, 4]), 0), (torch.tensor([5]), 1)], batch_size=2)
    torchnlp.train_epoch(model, loader, optimizer, progress=False)
    assert not model.embedding.weight.grad.is_sparse
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning where sparse gradients work
        assert isinstance(torchnlp.make_adam(torchnlp.RNNClassifier(10, 2, sparse=True)), torchnlp.MultiOptimizer)


def test_make_adam_gives_a_sparse_embedding_bag_sparse_adam():
    torch.manual_seed(0)

    class Bag(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bag = torch.nn.EmbeddingBag(10, 4, mode="mean", padding_idx=0, sparse=True)
            self.fc = torch.nn.Linear(4, 2)

        def forward(self, x, lengths):
            return self.fc(self.bag(x))

    model = Bag()
    optimizer = torchnlp.make_adam(model, lr=0.1)
    assert isinstance(optimizer, torchnlp.MultiOptimizer)
    before = model.bag.weight.detach().clone()
    loader = torchnlp.make_loader([(torch.tensor([3, 4]), 0), (torch.tensor([5]), 1)], batch_size=2)
    torchnlp.train_epoch(model, loader, optimizer, progress=False)
    changed = (model.bag.weight.detach() != before).any(dim=1).nonzero().flatten().tolist()
    assert changed == [3, 4, 5]  # the rows the batch used; <pad> (row 0) is left out of the mean


def test_evaluate_text_carries_the_state_across_windows():
    torch.manual_seed(0)
    model = torchnlp.CharLSTM(6, embed_dim=4, hidden_dim=8)
    ids = torch.randint(0, 6, (203,))
    stats = torchnlp.evaluate_text(model, ids, batch_size=4, seq_len=7)
    n = 50  # (203 - 1) // 4 characters per stream
    with torch.no_grad():  # each stream read in one call: the same as windows with the state carried
        logits, _ = model(ids[: 4 * n].view(4, n))
    targets = ids[1 : 4 * n + 1].view(4, n)
    assert stats["samples"] == 4 * n
    assert stats["loss"] == pytest.approx(torchnlp.cross_entropy(logits, targets).item(), rel=1e-5)
    assert stats["acc"] == pytest.approx((logits.argmax(-1) == targets).float().mean().item())
    windows = torchnlp.evaluate(model, torch.utils.data.DataLoader(torchnlp.char_dataset(ids, 7)), progress=False)
    assert windows["loss"] != pytest.approx(stats["loss"], rel=1e-4)  # a fresh state every 7 characters differs
    assert model.training


def test_evaluate_text_bad_input():
    model = torchnlp.CharLSTM(6, embed_dim=4, hidden_dim=8)
    with pytest.raises(ValueError, match="too short"):
        torchnlp.evaluate_text(model, torch.arange(3), batch_size=4)
    with pytest.raises(ValueError, match="at least 1"):
        torchnlp.evaluate_text(model, torch.arange(30), seq_len=0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        torchnlp.evaluate_text(model, torch.arange(30), batch_size=2.5)
    for bad in ([0, 1, 2] * 10, torch.zeros(40, 2, dtype=torch.long)):
        with pytest.raises(TypeError, match="ids must be a 1-D tensor"):
            torchnlp.evaluate_text(model, bad, batch_size=2)


def test_model_options_are_checked():
    for kwargs, error, message in [
        (dict(embed_dim=0), ValueError, "embed_dim must be at least 1"),  # torch said "input_size"
        (dict(hidden_dim=0), ValueError, "hidden_dim must be at least 1"),
        (dict(num_layers=0), ValueError, "num_layers must be at least 1"),
        (dict(dropout="0.5"), TypeError, "dropout must be a number in 0..1"),
        (dict(dropout=1.5), ValueError, r"dropout must lie in 0\.\.1"),
    ]:
        for model in (torchnlp.RNNClassifier, torchnlp.CharLSTM):
            with pytest.raises(error, match=message):
                model(10, **kwargs) if model is torchnlp.CharLSTM else model(10, 2, **kwargs)
    for name in ("bidirectional", "sparse"):
        with pytest.raises(TypeError, match=f"{name} must be True or False, not 'no'"):
            torchnlp.RNNClassifier(10, 2, **{name: "no"})  # a string would have meant True
    for bad in ("no", None, 1):
        with pytest.raises(TypeError, match=f"bf16 must be True or False, not {bad!r}"):
            torchnlp.CharLSTM(10, bf16=bad)


def test_helpers_check_their_arguments():
    for call in (lambda: torchnlp.count_parameters(None), lambda: torchnlp.eval_mode(None).__enter__()):
        with pytest.raises(TypeError, match="model must be a model"):
            call()
    with pytest.raises(ValueError, match="device must be a device such as 'cpu'"):
        torchnlp.supports_sparse_gradients("gpu")
    for seed in ("a", 1.5):
        with pytest.raises(TypeError, match="seed must be an int"):
            torchnlp.seed_everything(seed)
    x, lengths = torch.zeros(2, 5, 3), torch.tensor([5, 2])
    for bad_x, error, message in [
        (torch.zeros(0, 3), ValueError, "holds no sequence"),  # min() of nothing failed inside torch
        (torch.zeros(3), TypeError, r"x must be a padded batch, a \(B, T, ...\) tensor"),
        ([[1, 2]], TypeError, "x must be a padded batch"),
    ]:
        with pytest.raises(error, match=message):
            torchnlp.check_lengths(lengths[: len(bad_x)], bad_x)
    gru = torch.nn.GRU(3, 4, batch_first=True)
    for bad_x in (x[..., 0], torch.zeros(2, 5, 7)):
        with pytest.raises(ValueError, match=r"x must be \(B, T, 3\) inputs"):  # "mat1 and mat2 shapes" before
            torchnlp.rnn_padded(gru, bad_x, lengths)


def test_cross_entropy_checks_its_arguments():
    assert torchnlp.cross_entropy(torch.zeros(4), torch.tensor(1)).item() == pytest.approx(torch.log(torch.tensor(4.0)))
    for logits, labels in [
        (torch.zeros(2, 3), torch.zeros(3, dtype=torch.long)),
        (torch.zeros(2, 3), torch.zeros(2)),  # float labels
        (torch.zeros(2, 5, 3), torch.zeros(2, dtype=torch.long)),
    ]:
        with pytest.raises(ValueError, match="labels .* must be integer classes, one per row of logits"):
            torchnlp.cross_entropy(logits, labels)
    int32 = torchnlp.cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.int32))  # torch wants int64
    assert int32.item() == pytest.approx(torch.log(torch.tensor(3.0)))
    with pytest.raises(TypeError, match="logits and labels must be tensors"):
        torchnlp.cross_entropy([[1.0, 2.0]], torch.zeros(1, dtype=torch.long))


def nan_at(batch):
    """A loss function that gives NaN from batch ``batch`` (0-based) on, cross-entropy before."""
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        loss = torchnlp.cross_entropy(out, y)
        return loss * float("nan") if len(calls) > batch else loss

    return loss_fn


def test_a_nan_loss_raises_instead_of_training_on():
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    loader = torchnlp.make_loader(toy_task(24), batch_size=8, shuffle=False)
    before = copy.deepcopy(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="the loss is nan by batch 1: .*lower the learning rate"):
        torchnlp.train_epoch(model, loader, opt, loss_fn=nan_at(0), progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # raised before the step
    with pytest.raises(ValueError, match="the loss is nan after 3 batches"):  # checked at the end of the epoch too
        torchnlp.run_epoch(model, loader, opt, loss_fn=nan_at(1), progress=False)
    with pytest.raises(ValueError, match="the loss is nan"):
        torchnlp.evaluate(model, loader, loss_fn=nan_at(0), progress=False)
    with pytest.raises(ValueError, match="the loss is nan"):
        torchnlp.train(model, loader, epochs=3, loss_fn=nan_at(2), verbose=False, progress=False)
    with pytest.raises(TypeError, match="restore_best must be True or False"):
        torchnlp.train(model, loader, loader, restore_best="no", verbose=False, progress=False)


def test_check_finite_false_lets_a_diverging_run_go_on_and_records_its_nan():
    """Lesson 04 trains an identity-initialised ReLU RNN without clipping to show it diverge."""
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    loader = torchnlp.make_loader(toy_task(24), batch_size=8, shuffle=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = torchnlp.train(model, loader, optimizer=opt, loss_fn=nan_at(1), check_finite=False, verbose=False)
    assert math.isnan(history["train_loss"][0])
    norms = history["grad_norms"]  # one per batch
    assert len(norms) == 3 and math.isfinite(norms[0]) and all(math.isnan(n) for n in norms[1:])
    with pytest.raises(TypeError, match="check_finite must be True or False"):
        torchnlp.run_epoch(model, loader, opt, check_finite="no", progress=False)


def test_loops_take_a_model_without_parameters():
    class Constant(torch.nn.Module):  # a baseline, e.g. "always the majority class"
        def forward(self, x, lengths):
            return torch.zeros(len(x), 2)

    loader = torchnlp.make_loader(toy_task(10), batch_size=4)
    assert torchnlp.evaluate(Constant(), loader, progress=False)["samples"] == 10  # StopIteration before
    with pytest.raises(TypeError, match="model must be a model"):
        torchnlp.evaluate(None, loader, progress=False)
    with pytest.raises(TypeError, match="model must be a model"):  # 'NoneType' object has no attribute 'train'
        torchnlp.train(None, loader, optimizer=torch.optim.SGD([torch.zeros(1)], lr=0.1), verbose=False)


def test_logits_with_no_finite_maximum_raise_rather_than_give_nan():
    neg = float("-inf")
    torch.testing.assert_close(torchnlp.softmax_with_temperature(torch.tensor([0.0, neg])), torch.tensor([1.0, 0.0]))
    for logits in (torch.full((2, 5), neg), torch.tensor([0.0, float("nan")]), torch.tensor([float("inf"), 0.0])):
        with pytest.raises(ValueError, match="logits must hold a finite largest value in every row"):
            torchnlp.softmax_with_temperature(logits)  # gave nan, which torch.multinomial rejects or samples
    for logits in ([1.0, 2.0], torch.zeros(0), torch.tensor([1, 2])):
        with pytest.raises(TypeError, match=r"logits must be a floating-point tensor \(..., V\)"):
            torchnlp.softmax_with_temperature(logits)

    class Impossible(torch.nn.Module):  # a language model whose every next character has probability 0
        def __init__(self, vocab_size):
            super().__init__()
            self.vocab_size = vocab_size

        def forward(self, x, state=None):
            return torch.full((1, x.size(1), self.vocab_size), neg), state

    vocab = torchnlp.char_vocab("abcd")
    for temperature in (1.0, None):  # sampled or greedy (argmax of all -inf picked the first character)
        with pytest.raises(ValueError, match="finite"):
            torchnlp.generate(Impossible(len(vocab)), "ab", vocab, length=3, temperature=temperature)
    model = torchnlp.CharLSTM(len(vocab), embed_dim=4, hidden_dim=4)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        torchnlp.generate(model, "ab", vocab, generator=0)
    with pytest.raises(TypeError, match="model must be a model"):
        torchnlp.generate(None, "ab", vocab)


def test_char_helpers_check_their_text():
    with pytest.raises(ValueError, match="char_vocab: text is empty"):
        torchnlp.char_vocab("")
    for text in (None, ["ab", "c"]):
        with pytest.raises(TypeError, match="char_vocab: text must be a str"):
            torchnlp.char_vocab(text)
    with pytest.raises(ValueError, match="ids: a text of 0 characters is too short"):  # gave an empty data set
        torchnlp.char_dataset(torch.zeros(0, dtype=torch.long), 3)


def test_more_loop_and_model_arguments_are_checked():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    loader = torchnlp.make_loader(toy_task(8), batch_size=4)
    for call, error, message in [
        (lambda: torchnlp.evaluate(model, loader, device="gpu", progress=False), ValueError, "device must be a device"),
        (
            lambda: torchnlp.evaluate(model, loader, loss_fn=None, progress=False),
            TypeError,
            "loss_fn must be a function",
        ),
        (lambda: torchnlp.make_loader(toy_task(4), collate_fn=None), TypeError, "collate_fn must be a function"),
        (
            lambda: torchnlp.MultiOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), 0.1),
            TypeError,
            "optimizer must",
        ),
        (lambda: torchnlp.BucketBatchSampler(5, 2), TypeError, "lengths must be a list of ints"),
    ]:
        with pytest.raises(error, match=message):
            call()
    with pytest.raises(ValueError, match="make_adam: the model ReLU has no parameters"):
        torchnlp.make_adam(torch.nn.ReLU())
    char_model = torchnlp.CharLSTM(10, embed_dim=4, hidden_dim=6)
    for m in (model, char_model):  # "Expected sequence length to be larger than 0 in RNN" before
        with pytest.raises(ValueError, match=r"x \(2, 0\) has no step \(T = 0\)"):
            m(torch.zeros(2, 0, dtype=torch.long))
    _, state = char_model(torch.tensor([[1, 2], [3, 4], [5, 6]]))
    with pytest.raises(ValueError, match=r"state must be None or \(h, c\), each \(1, 2, 6\) for this batch"):
        char_model(torch.tensor([[1, 2], [3, 4]]), state)  # a state from a batch of 3


@pytest.mark.parametrize("pool", ["last", "max"])
@pytest.mark.parametrize("pack", [None, True, False])  # None: no lengths, the whole padded batch is read
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, False), (2, True)])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_classifier_features_are_the_last_layer_read_to_each_end(cell, layers, bidirectional, pack, pool):
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(
        10, 3, embed_dim=5, hidden_dim=4, cell=cell, num_layers=layers, bidirectional=bidirectional, pool=pool
    ).eval()
    model.pack = pack
    x, lengths, _ = torchnlp.pad_length(toy_task(5))
    x = F.pad(x, (0, 2))  # two more padding steps than the longest text
    with torch.no_grad():
        got = model(x) if pack is None else model(x, lengths)
        texts = [x] if pack is None else [x[i : i + 1, :n] for i, n in enumerate(lengths.tolist())]
        features = []
        for ids in texts:
            output, _ = model.rnn(model.embedding(ids))  # (B, T, D * 4): the last layer at every step
            if pool == "max":
                features.append(output.amax(1))
            elif bidirectional:  # forward after the last step, backward after reading back to the first
                features.append(torch.cat([output[:, -1, :4], output[:, 0, 4:]], dim=1))
            else:
                features.append(output[:, -1])
        expected = model.fc(torch.cat(features))
    torch.testing.assert_close(got, expected)


class ModeSpy(torch.nn.Module):
    """Wraps a model; records at each call whether it was in training mode, and raises there if ``fail``."""

    def __init__(self, model, fail=False):
        super().__init__()
        self.model, self.fail, self.modes = model, fail, []

    def forward(self, *args):
        self.modes.append(self.training or self.model.training)
        if self.fail:
            raise RuntimeError("the model failed (test)")
        return self.model(*args)


def classifier():
    return torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4, dropout=0.5)


def char_model():
    return torchnlp.CharLSTM(5, embed_dim=4, hidden_dim=4, dropout=0.5)


def forecaster():  # (B, 6, 2) -> (B, 3, 2)
    return torch.nn.Sequential(torch.nn.Dropout(0.5), Transpose(), torch.nn.Linear(6, 3), Transpose())


class Transpose(torch.nn.Module):
    def forward(self, x):
        return x.transpose(1, 2)


def in_eval_mode(model):
    with torchnlp.eval_mode(model) as same:
        assert same is model
        model(torch.tensor([[2, 3]]))


WORDS, CHARS = torchnlp.Vocab.build(["a b c d e"]), torchnlp.char_vocab("abcde")
WINDOWS = torch.utils.data.TensorDataset(torch.randn(4, 6, 2), torch.randn(4, 3, 2))
EVALUATIONS = {  # every helper that runs a model in eval mode: (model, call)
    "eval_mode": (classifier, in_eval_mode),
    "evaluate": (classifier, lambda m: torchnlp.evaluate(m, torchnlp.make_loader(toy_task(8), 4), progress=False)),
    "predict": (classifier, lambda m: torchnlp.predict(m, ["a b", "c"], WORDS)),
    "generate": (char_model, lambda m: torchnlp.generate(m, "ab", CHARS, length=3)),
    "evaluate_text": (char_model, lambda m: torchnlp.evaluate_text(m, torch.arange(5).repeat(4), 2, seq_len=4)),
    "evaluate_forecast": (forecaster, lambda m: torchnlp.evaluate_forecast(m, torch.utils.data.DataLoader(WINDOWS, 2))),
}


@pytest.mark.parametrize("fail", [False, True])
@pytest.mark.parametrize("was_training", [True, False])
@pytest.mark.parametrize("name", EVALUATIONS)
def test_evaluation_runs_in_eval_mode_and_restores_the_mode(name, was_training, fail):
    make_model, call = EVALUATIONS[name]
    model = ModeSpy(make_model(), fail=fail).train(was_training)
    if fail:
        with pytest.raises(RuntimeError, match="the model failed"):
            call(model)
    else:
        call(model)
    assert model.modes and not any(model.modes)  # dropout off at every call
    assert model.training is was_training and all(m.training is was_training for m in model.modules())


@pytest.mark.parametrize("name", ["train_epoch", "train_text"])
def test_training_puts_a_model_in_training_mode(name):
    if name == "train_epoch":
        model = ModeSpy(classifier()).eval()
        loader = torchnlp.make_loader(toy_task(8), 4)
        torchnlp.train_epoch(model, loader, torch.optim.SGD(model.parameters(), 0.1), progress=False)
    else:
        model = ModeSpy(char_model()).eval()
        ids, optimizer = torch.arange(5).repeat(4), torch.optim.SGD(model.parameters(), 0.1)
        torchnlp.train_text(model, ids, optimizer, batch_size=2, seq_len=4, progress=False)
    assert model.modes and all(model.modes) and model.training  # dropout on at every call


def test_rnn_padded_reads_a_relu_rnn_without_biases_like_packing():
    torch.manual_seed(0)
    rnn = torch.nn.RNN(3, 4, nonlinearity="relu", bias=False, bidirectional=True, batch_first=True)
    x, lengths = torch.randn(3, 5, 3), torch.tensor([5, 2, 3])
    packed, ref_h = rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    output, h_n = torchnlp.rnn_padded(rnn, x, lengths)
    torch.testing.assert_close(output, pad_packed_sequence(packed, batch_first=True)[0])
    torch.testing.assert_close(h_n, ref_h)


def test_rnn_padded_drops_out_between_layers_not_after_the_last():
    rnn = torch.nn.GRU(3, 4, num_layers=2, dropout=1.0, batch_first=True).train()  # p = 1: no randomness
    x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 3])
    packed, ref_h = rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    output, h_n = torchnlp.rnn_padded(rnn, x, lengths)
    torch.testing.assert_close(output, pad_packed_sequence(packed, batch_first=True)[0])
    torch.testing.assert_close(h_n, ref_h)
    assert output[0].abs().min() > 0


@pytest.mark.parametrize("kind", ["classifier", "char"])
def test_dropout_before_the_output_layer_only_in_training(kind):
    torch.manual_seed(0)
    if kind == "classifier":
        model, x = torchnlp.RNNClassifier(10, 3, embed_dim=4, hidden_dim=32, dropout=0.5), torch.tensor([[2, 3, 4]])
    else:
        model, x = torchnlp.CharLSTM(10, embed_dim=4, hidden_dim=32, dropout=0.5), torch.tensor([[2, 3, 4]])

    def logits():
        out = model(x)
        return out[0] if isinstance(out, tuple) else out

    assert not torch.equal(logits(), logits())  # one layer: only the features' dropout is random
    model.eval()
    assert torch.equal(logits(), logits())


def test_classifier_reads_padded_batches_with_rnn_padded_on_the_cpu(monkeypatch):
    calls = []
    rnn_padded = torchnlp.rnn_padded
    monkeypatch.setattr(torchnlp, "rnn_padded", lambda *args: calls.append(1) or rnn_padded(*args))
    x, lengths, _ = torchnlp.pad_length(toy_task(3))
    torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)(x, lengths)  # pack=None: packed only on CUDA
    assert calls == [1]
    torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4, pack=True)(x, lengths)
    assert calls == [1]


def test_count_parameters_counts_only_trainable_ones():
    model = torchnlp.RNNClassifier(5, 2, embed_dim=3, hidden_dim=2)
    model.embedding.weight.requires_grad_(False)  # a frozen (e.g. pretrained) embedding
    assert torchnlp.count_parameters(model) == 40 + 16 + 6


@pytest.mark.parametrize("sparse", [False, True])
def test_make_adam_uses_the_learning_rate_for_every_parameter(sparse):
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4, sparse=sparse)
    optimizer = torchnlp.make_adam(model, lr=0.25)
    optimizers = optimizer.optimizers if sparse else [optimizer]
    assert [group["lr"] for o in optimizers for group in o.param_groups] == [0.25] * len(optimizers)
    assert sum(p.numel() for o in optimizers for g in o.param_groups for p in g["params"]) == sum(
        p.numel() for p in model.parameters()
    )
    model(torch.tensor([[2, 3]])).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.to_dense().any() for p in model.parameters())


def test_train_epoch_takes_one_step_per_batch_on_that_batch_gradient():
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    reference = copy.deepcopy(model)
    batches = list(torchnlp.make_loader(toy_task(24), batch_size=8, shuffle=False))
    stats = torchnlp.train_epoch(model, batches, torch.optim.SGD(model.parameters(), lr=0.5), progress=False)
    optimizer, losses, correct = torch.optim.SGD(reference.parameters(), lr=0.5), [], 0
    for x, lengths, y in batches:  # the same by hand
        logits = reference(x, lengths)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        correct += (logits.argmax(1) == y).sum().item()
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q)
    assert stats["loss"] == pytest.approx(sum(losses) / 3) and stats["acc"] == correct / 24


class Fixed(torch.nn.Module):
    """A model whose output is ``table[x]``: logits (B, T, C) for x (B, T) (or values, for regression)."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(table)

    def forward(self, x):
        return self.table[x]


def test_run_epoch_averages_over_targets_and_ignores_minus_100():
    table = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.0, 1.0, 1.0]])  # token -> logits of 3 classes
    batches = [
        (torch.tensor([[0, 1, 2]]), torch.tensor([[0, 2, 1]])),
        (torch.tensor([[1, 2, 2], [0, 0, 1]]), torch.tensor([[1, -100, -100], [2, -100, -100]])),
    ]
    stats = torchnlp.evaluate(Fixed(table), batches, progress=False)
    x, y = torch.cat([b[0].flatten() for b in batches]), torch.cat([b[1].flatten() for b in batches])
    assert stats["loss"] == pytest.approx(F.cross_entropy(table[x], y).item())  # over the 5 real targets
    assert stats["acc"] == pytest.approx(2 / 5)  # 0 -> 0 and 1 -> 1 are right
    assert stats["samples"] == 3


def test_run_epoch_regression_has_no_accuracy_and_checks_the_shape():
    model = Fixed(torch.tensor([0.5, 1.0, 2.0]))
    batches = [
        (torch.tensor([[0, 1]]), torch.tensor([[0.0, 1.0]])),
        (torch.tensor([[2, 2]]), torch.tensor([[0.0, 2.0]])),
    ]
    stats = torchnlp.evaluate(model, batches, loss_fn=F.mse_loss, progress=False)
    assert stats["acc"] is None and stats["loss"] == pytest.approx((0.25 + 0 + 4 + 0) / 4)
    with pytest.raises(ValueError, match=r"output \(1, 2\) does not fit the target y \(1, 2, 1\)"):
        torchnlp.evaluate(model, [(torch.tensor([[0, 1]]), torch.zeros(1, 2, 1))], loss_fn=F.mse_loss, progress=False)


def test_train_uses_its_lr_and_evaluates_with_its_loss_fn(monkeypatch):
    made = []
    make_adam = torchnlp.make_adam
    monkeypatch.setattr(torchnlp, "make_adam", lambda model, lr: made.append(lr) or make_adam(model, lr))
    model = Fixed(torch.tensor([0.5, 1.0, 2.0]))
    batches = [(torch.tensor([[0, 1]]), torch.tensor([[0.0, 1.0]]))]
    history = torchnlp.train(model, batches, batches, lr=0.25, loss_fn=F.mse_loss, verbose=False, progress=False)
    assert made == [0.25]
    assert history["val_loss"] == [pytest.approx(torchnlp.evaluate(model, batches, loss_fn=F.mse_loss)["loss"])]


def test_plot_history_marks_the_best_epoch_and_skips_a_missing_accuracy():
    fig = torchnlp.plot_history({"train_loss": [1.0, 0.5], "val_loss": [0.9, 0.7], "best_epoch": 2})
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 3
    assert fig.axes[0].lines[2].get_xdata()[0] == 2
    fig = torchnlp.plot_history({"train_loss": [1.0], "train_acc": [None]})  # a regression's history
    assert len(fig.axes) == 1


def test_arguments_at_their_limits():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    assert model(torch.tensor([[0, 9]])).shape == (1, 2)
    with pytest.raises(ValueError, match=r"x holds ids 0\.\.10, outside 0\.\.9"):
        model(torch.tensor([[0, 10]]))  # one past the last row
    with pytest.raises(TypeError, match="batch_size must be an int, not True"):
        torchnlp.make_loader(toy_task(4), batch_size=True)
    with pytest.raises(ValueError, match="lr must be positive, not nan"):
        torchnlp.make_adam(model, lr=float("nan"))
