"""Models, training loops, evaluation, plots and character generation."""

import copy

import matplotlib
import pytest
import torch
import torch.nn.functional as F

import torchnlp

matplotlib.use("Agg")


def toy_task(n=256, seed=0):
    """Label 1 when token 3 occurs in the sequence, else 0; lengths 2..12, vocabulary 0..9."""
    g = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(n):
        ids = torch.randint(4, 10, (int(torch.randint(2, 13, (), generator=g)),), generator=g)
        label = int(torch.rand((), generator=g) < 0.5)
        if label:
            ids[torch.randint(0, len(ids), (), generator=g)] = 3
        data.append((label, ids))
    return data


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
def test_classifier_shapes(cell, layers, bidirectional):
    model = torchnlp.RNNClassifier(
        20, 4, embed_dim=8, hidden_dim=6, cell=cell, num_layers=layers, bidirectional=bidirectional, dropout=0.1
    )
    labels, x, lengths = torchnlp.pad_length(toy_task(5))
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
    _, x, lengths = torchnlp.pad_length(data)
    batched = model(x, lengths)
    alone = torch.cat([model(ids[None]) for _, ids in data])
    torch.testing.assert_close(batched, alone)
    # Without lengths the padding is read too, and the short sequences' results change.
    assert not torch.allclose(model(x), alone, atol=1e-4)


def test_unpacked_forward_state_is_read_at_each_texts_last_token():
    torch.manual_seed(0)
    packed = torchnlp.RNNClassifier(10, 3, embed_dim=5, hidden_dim=7, num_layers=2).eval()
    padded = torchnlp.RNNClassifier(10, 3, embed_dim=5, hidden_dim=7, num_layers=2, pack=False).eval()
    padded.load_state_dict(packed.state_dict())
    _, x, lengths = torchnlp.pad_length(toy_task(6))
    torch.testing.assert_close(padded(x, lengths), packed(x, lengths))


def test_unpacked_bidirectional_backward_state_reads_the_padding_first():
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 3, embed_dim=5, hidden_dim=7, bidirectional=True, pack=False).eval()
    data = toy_task(6)
    _, x, lengths = torchnlp.pad_length(data)
    with torch.no_grad():
        output, _ = model.rnn(model.embedding(x))
        expected = torch.cat([output[torch.arange(6), lengths - 1, :7], output[:, 0, 7:]], dim=1)
    torch.testing.assert_close(model(x, lengths), model.fc(expected))
    full = lengths == lengths.max()  # no padding: the same as the text alone
    alone = torch.cat([model(ids[None]) for _, ids in data])
    torch.testing.assert_close(model(x, lengths)[full], alone[full])
    assert not torch.allclose(model(x, lengths)[~full], alone[~full], atol=1e-4)


@pytest.mark.parametrize("pack", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_max_pool_ignores_the_padding(pack, bidirectional):
    torch.manual_seed(0)
    model = torchnlp.RNNClassifier(10, 3, embed_dim=5, hidden_dim=7, bidirectional=bidirectional, pool="max", pack=pack)
    model.eval()
    data = toy_task(6)
    _, x, lengths = torchnlp.pad_length(data)
    alone = torch.cat([model(ids[None]) for _, ids in data])
    with torch.no_grad():
        output, _ = model.rnn(model.embedding(data[0][1][None]))  # (1, T, D * H)
    torch.testing.assert_close(alone[:1], model.fc(output.amax(1)))
    if pack or not bidirectional:  # padded + bidirectional: the backward direction reads the padding first
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
    assert set(history) == {"train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
    assert all(len(v) == 6 for v in history.values())
    assert history["val_loss"][-1] == pytest.approx(after["loss"])


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
    labels, x, lengths = torchnlp.pad_length(data)
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
        loader = torchnlp.make_loader([(bad, torch.tensor([4, 5])), (0, torch.tensor([6]))], batch_size=2)
        with pytest.raises(ValueError, match="labels must lie in 0..1"):
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
    target, inputs = data[1]
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
    logits, (h, c) = model(next(iter(loader))[1])
    assert logits.shape == (10, 16, 4) and h.shape == c.shape == (1, 10, 32)
    torchnlp.train(model, loader, epochs=15, lr=0.02, verbose=False, progress=False)
    assert torchnlp.generate(model, vocab, "ab", length=10, temperature=None) == "abcdabcdabcd"
    g = torch.Generator().manual_seed(0)
    sampled = torchnlp.generate(model, vocab, "a", length=30, temperature=1.0, generator=g)
    again = torchnlp.generate(model, vocab, "a", length=30, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert sampled == again and len(sampled) == 31 and set(sampled) <= set("abcd")
    with pytest.raises(ValueError, match="prefix"):
        torchnlp.generate(model, vocab, "", length=5)
    with pytest.raises(KeyError):
        torchnlp.generate(model, vocab, "xyz", length=5)


def test_make_adam_updates_only_used_rows_of_a_sparse_embedding():
    torch.manual_seed(0)
    dense = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    assert isinstance(torchnlp.make_adam(dense), torch.optim.Adam)
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4, sparse=True)
    optimizer = torchnlp.make_adam(model, lr=0.1)
    assert isinstance(optimizer, torchnlp.MultiOptimizer)
    before = model.embedding.weight.detach().clone()
    rnn_before = model.rnn.weight_hh_l0.detach().clone()
    loader = torchnlp.make_loader([(0, torch.tensor([3, 4])), (1, torch.tensor([5]))], batch_size=2)
    torchnlp.train_epoch(model, loader, optimizer, clip=1.0, progress=False)  # clipping skips the sparse gradient
    changed = (model.embedding.weight.detach() != before).any(dim=1).nonzero().flatten().tolist()
    assert changed == [3, 4, 5]
    assert not torch.equal(model.rnn.weight_hh_l0, rnn_before)
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())


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
