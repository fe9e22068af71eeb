"""Models, training loops, evaluation, plots and character generation."""

import copy

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


def test_reverse_padded_reverses_within_each_length():
    x = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0], [7, 0, 0, 0]])
    lengths = torch.tensor([4, 2, 1])
    assert torchnlp.reverse_padded(x, lengths).tolist() == [[4, 3, 2, 1], [6, 5, 0, 0], [7, 0, 0, 0]]
    features = torch.randn(3, 4, 2)
    torch.testing.assert_close(torchnlp.reverse_padded(torchnlp.reverse_padded(features, lengths), lengths), features)


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


def test_train_epoch_epoch_size_clip_and_no_graph_kept():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    loader = torchnlp.make_loader(toy_task(100), batch_size=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    stats = torchnlp.train_epoch(model, loader, opt, epoch_size=30, clip=1e-3, progress=False)
    assert stats["samples"] == 30
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


def test_gradient_clipping_bounds_the_update():
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    before = [p.detach().clone() for p in model.parameters()]
    loader = torchnlp.make_loader(toy_task(8), batch_size=8)
    torchnlp.train_epoch(model, loader, torch.optim.SGD(model.parameters(), lr=1.0), clip=1e-3, progress=False)
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])
    assert step.norm() <= 1e-3 * 1.0001


def test_labels_out_of_range_raise():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for bad in (2, -1):
        loader = torchnlp.make_loader([(torch.tensor([4, 5]), bad), (torch.tensor([6]), 0)], batch_size=2)
        with pytest.raises(ValueError, match="targets must lie in 0..1"):
            torchnlp.train_epoch(model, loader, opt, progress=False)


def test_empty_loader_raises():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    with pytest.raises(ValueError, match="no batch"):
        torchnlp.evaluate(model, [], progress=False)


def test_plot_history():
    history = {"train_loss": [1.0, 0.5], "train_acc": [0.5, 0.8], "val_loss": [0.9, 0.7], "val_acc": [0.6, 0.7]}
    fig = torchnlp.plot_history(history, title="toy")
    assert len(fig.axes) == 2
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert fig.axes[1].lines[1].get_ydata().tolist() == [0.6, 0.7]
    fig = torchnlp.plot_history({"train_loss": [1.0], "train_acc": [0.5]})
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]


def test_predict_and_count_parameters():
    vocab = torchnlp.Vocab.build(["good movie", "bad movie"])
    model = torchnlp.RNNClassifier(len(vocab), 2, embed_dim=3, hidden_dim=2)
    predictions = torchnlp.predict(model, ["good", "bad movie", ""], vocab)
    assert len(predictions) == 3 and set(predictions) <= {0, 1}
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
    with pytest.raises(KeyError):
        torchnlp.generate(model, "xyz", vocab, length=5)


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
