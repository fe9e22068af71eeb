"""Character language models read as continuous text: windows, truncated backpropagation through time."""

import math

import pytest
import torch

import torchnlp


def test_text_windows_continue_each_stream():
    ids = torch.arange(23)
    windows = list(torchnlp.text_windows(ids, batch_size=2, seq_len=4, offset=1))
    streams = torch.cat([x for x, _ in windows], dim=1)  # (2, n): each row one stream, read in order
    assert streams.tolist() == [list(range(1, 11)), list(range(11, 21))]  # (23 - 1 - offset) // 2 = 10 each
    targets = torch.cat([y for _, y in windows], dim=1)
    assert torch.equal(targets, streams + 1)  # the target is the next character
    assert [x.shape[1] for x, _ in windows] == [4, 4, 2]
    with pytest.raises(ValueError, match="too short"):
        list(torchnlp.text_windows(torch.arange(3), batch_size=4, seq_len=2))
    with pytest.raises(ValueError, match="at least"):
        list(torchnlp.text_windows(ids, batch_size=2, seq_len=0))


def test_train_text_carries_the_state_but_truncates_the_gradient():
    torch.manual_seed(0)
    model = torchnlp.CharLSTM(5, embed_dim=4, hidden_dim=6)
    reference = torchnlp.CharLSTM(5, embed_dim=4, hidden_dim=6)
    reference.load_state_dict(model.state_dict())
    ids = torch.randint(0, 5, (61,))
    stats = torchnlp.train_text(
        model, ids, torch.optim.SGD(model.parameters(), lr=0.5), batch_size=3, seq_len=5, progress=False
    )
    # The same by hand: windows in order, the state carried and detached, one SGD step each.
    optimizer, state, losses = torch.optim.SGD(reference.parameters(), lr=0.5), None, []
    for x, y in torchnlp.text_windows(ids, 3, 5):
        logits, state = reference(x, state)
        state = tuple(s.detach() for s in state)
        loss = torchnlp.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q)
    assert stats["samples"] == 60 and len(stats["grad_norms"]) == 4
    assert stats["loss"] == pytest.approx(sum(losses) / 4)  # every window holds 3 x 5 characters


def test_train_text_learns_a_periodic_text_and_generates_it():
    torchnlp.seed_everything(0)
    text = "abcde" * 300
    vocab = torchnlp.char_vocab(text)
    ids = torch.tensor(vocab.encode(text))
    model = torchnlp.CharLSTM(len(vocab), embed_dim=8, hidden_dim=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    first = torchnlp.train_text(model, ids, optimizer, batch_size=4, seq_len=20, progress=False)
    for epoch in range(5):
        last = torchnlp.train_text(model, ids, optimizer, batch_size=4, seq_len=20, offset=epoch, progress=False)
    assert last["loss"] < 0.1 < first["loss"]
    assert torchnlp.evaluate_text(model, ids, batch_size=4, seq_len=20)["acc"] > 0.99
    assert torchnlp.generate(model, "abc", vocab, length=7, temperature=None) == "abcdeabcde"


@pytest.mark.skipif(not torchnlp.cpu_has_bf16(), reason="no bfloat16 units (the next test covers this case)")
def test_char_lstm_in_bfloat16_gives_float_logits_and_close_losses():
    torch.manual_seed(0)
    model = torchnlp.CharLSTM(7, embed_dim=8, hidden_dim=16)
    ids = torch.randint(0, 7, (500,))
    full = torchnlp.evaluate_text(model, ids, batch_size=4, seq_len=25)["loss"]
    model.bf16 = True
    logits, (h, c) = model(ids[None, :10])
    assert logits.dtype == torch.float32
    assert torchnlp.evaluate_text(model, ids, batch_size=4, seq_len=25)["loss"] == pytest.approx(full, rel=2e-2)


def test_char_lstm_in_bfloat16_without_bfloat16_units_raises_a_clear_error(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # what make test pins: cpu_has_bf16() is then False
    assert not torchnlp.cpu_has_bf16()
    model = torchnlp.CharLSTM(7, embed_dim=8, hidden_dim=16, bf16=True)
    with pytest.raises(RuntimeError, match="bf16=True needs a CPU with bfloat16 units"):
        model(torch.zeros(1, 5, dtype=torch.long))


def test_text_windows_and_train_text_check_their_arguments():
    ids = torch.arange(8).repeat(20)
    with pytest.raises(ValueError, match="seq_len must be at least 1"):
        torchnlp.text_windows(ids, 2, 0)  # raised only at the first window before
    with pytest.raises(ValueError, match="from offset 200"):
        torchnlp.text_windows(ids, 2, 3, offset=200)
    model = torchnlp.CharLSTM(8, embed_dim=4, hidden_dim=6)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for kwargs, error, message in [
        (dict(optimizer=None), TypeError, "optimizer must be an optimizer"),
        (dict(model=None), TypeError, "model must be a model"),
        (dict(clip="1"), TypeError, "clip must be a number"),
        (dict(offset=5), ValueError, r"offset must lie in 0\.\.4"),
    ]:
        args = dict(model=model, ids=ids, optimizer=opt, batch_size=2, seq_len=5, progress=False) | kwargs
        with pytest.raises(error, match=message):
            torchnlp.train_text(**args)


def test_a_nan_loss_stops_train_text_and_evaluate_text():
    model = torchnlp.CharLSTM(8, embed_dim=4, hidden_dim=6)
    with torch.no_grad():
        model.fc.bias[0] = float("nan")
    before = [p.detach().clone() for p in model.parameters()]
    ids = torch.arange(8).repeat(20)
    with pytest.raises(ValueError, match="the loss is nan by window 1"):
        torchnlp.train_text(model, ids, torch.optim.SGD(model.parameters(), lr=0.1), 2, 5, progress=False)
    assert all(torch.allclose(b, p, equal_nan=True) for b, p in zip(before, model.parameters()))  # no step taken
    with pytest.raises(ValueError, match="the loss is nan over 158 characters"):
        torchnlp.evaluate_text(model, ids, 2, 5)


def test_text_loops_need_a_language_model():
    classifier = torchnlp.RNNClassifier(8, 2, embed_dim=4, hidden_dim=4)  # returns logits (B, 2), no state
    ids = torch.arange(8).repeat(20)
    with pytest.raises(TypeError, match=r"evaluate_text needs a language model .*returned Tensor \(2, 2\)"):
        torchnlp.evaluate_text(classifier, ids, 2, 5)  # 'too many values to unpack' before
    with pytest.raises(TypeError, match="train_text needs a language model"):
        torchnlp.train_text(classifier, ids, torch.optim.SGD(classifier.parameters(), lr=0.1), 2, 5, progress=False)


@pytest.mark.parametrize(
    ("isa", "flags", "expected"),
    [
        ("", {"avx512_bf16"}, True),
        ("", {"amx_bf16", "avx2"}, True),
        ("", {"avx2", "avx512f"}, False),
        ("AVX2", {"avx512_bf16", "amx_bf16"}, False),  # oneDNN held below its bfloat16 code paths
        ("avx512_core_bf16", {"avx512_bf16"}, True),
        ("AVX512_CORE_AMX", {"amx_bf16"}, True),
    ],
)
def test_cpu_has_bf16_reads_the_cpu_flags_and_the_pinned_isa(isa, flags, expected, monkeypatch):
    monkeypatch.setattr(torchnlp, "_cpu_flags", lambda: frozenset(flags))
    if isa:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)
    else:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert torchnlp.cpu_has_bf16() is expected


def test_train_text_clips_the_gradient_and_counts_right_guesses():
    torch.manual_seed(0)
    model = torchnlp.CharLSTM(5, embed_dim=4, hidden_dim=6)
    before = [p.detach().clone() for p in model.parameters()]
    ids = torch.randint(0, 5, (11,))
    logits, _ = model(ids[:10].view(2, 5))
    right = (logits.argmax(-1) == ids[1:11].view(2, 5)).float().mean().item()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    stats = torchnlp.train_text(model, ids, optimizer, batch_size=2, seq_len=5, clip=1e-3, progress=False)
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])
    assert stats["grad_norms"][0] > 1e-3 and step.norm() <= 1e-3 * 1.0001  # measured before, then clipped
    assert stats["acc"] == pytest.approx(right)  # one window: the accuracy of the model before its step
    for clip in (0, -1.0):
        with pytest.raises(ValueError, match="clip must be positive"):
            torchnlp.train_text(model, ids, optimizer, batch_size=2, seq_len=5, clip=clip, progress=False)


def test_train_text_offset_shifts_the_windows():
    model = torchnlp.CharLSTM(30, embed_dim=4, hidden_dim=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    stats = torchnlp.train_text(model, torch.arange(30), optimizer, batch_size=2, seq_len=4, offset=3, progress=False)
    assert stats["samples"] == 2 * 13  # (30 - 1 - 3) // 2 characters per stream


def test_char_dataset_uses_the_last_character_as_a_target_only():
    assert len(torchnlp.char_dataset(torch.arange(9), 4)) == 2  # 8 inputs and their 8 targets
    data = torchnlp.char_dataset(torch.arange(8), 4)  # 7 targets: one window
    assert len(data) == 1 and data[0][1].tolist() == [1, 2, 3, 4]


# ---------------------------------------------------------------------------
# The n-gram baseline (lessons 05 and 08)


def test_ngram_counts_counts_every_gram_and_context():
    counts, contexts = torchnlp.ngram_counts("abcab", order=3)
    assert counts[0] == {"a": 2, "b": 2, "c": 1}
    assert counts[2] == {"abc": 1, "bca": 1, "cab": 1}
    assert contexts[0] == {"": (5, 3)}  # the empty context: every character, 3 kinds
    assert contexts[1] == {"a": (2, 1), "b": (1, 1), "c": (1, 1)}  # the last 'b' is followed by nothing


def test_ngram_probabilities_sum_to_one_for_every_order_and_context():
    text = "the cat sat on the mat. the hat"
    alphabet = sorted(set(text)) + ["z"]  # one character never seen in training
    model = torchnlp.ngram_counts(text, order=4)
    for history in ("the ", "at", "q", ""):  # a seen context, a shorter one, an unseen one, none
        probs = [
            [math.exp(-loss) for loss in torchnlp.ngram_losses(model, history + c, 0.7, len(alphabet), len(history))]
            for c in alphabet
        ]  # probs[c][n - 1]
        for n in range(4):
            assert math.isclose(sum(p[n] for p in probs), 1.0, rel_tol=1e-9), (history, n)


def test_ngram_losses_by_hand_and_history_before_start():
    model = torchnlp.ngram_counts("abab", order=2)
    # p_1(b) = (2 - 0.5 + 0.5 * 2 * 1/2) / 4 = 0.5; p_2(b | a) = (2 - 0.5 + 0.5 * 1 * 0.5) / 2 = 0.875
    assert torchnlp.ngram_losses(model, "ab", 0.5, 2) == pytest.approx([-math.log(0.5), -math.log(0.875)])
    # from start = 0 the first character has no history: every order gives it p_1
    first = -math.log((2 - 0.5 + 0.5 * 2 * 0.5) / 4)
    assert torchnlp.ngram_losses(model, "ab", 0.5, 2, start=0) == pytest.approx([first, (first - math.log(0.875)) / 2])


def test_ngram_losses_refuses_bad_arguments():
    model = torchnlp.ngram_counts("abab", order=2)
    with pytest.raises(ValueError, match="text"):
        torchnlp.ngram_counts("", order=2)
    with pytest.raises(ValueError, match="order"):
        torchnlp.ngram_counts("ab", order=0)
    with pytest.raises(TypeError, match="counts, contexts"):
        torchnlp.ngram_losses({"ab": 1}, "ab", 0.5, 2)
    with pytest.raises(ValueError, match="discount"):
        torchnlp.ngram_losses(model, "ab", 1.5, 2)
    with pytest.raises(ValueError, match="discount"):
        torchnlp.ngram_losses(model, "ab", 0, 2)
    with pytest.raises(ValueError, match="nothing to score"):
        torchnlp.ngram_losses(model, "ab", 0.5, 2, start=2)
    with pytest.raises(ValueError, match="vocab_size"):
        torchnlp.ngram_losses(model, "ab", 0.5, 0)
