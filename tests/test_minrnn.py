"""Lesson 08's parallel RNNs: the three scans, MinGRU and MinLSTM, MinRNNLM and CharTransformer."""

import math

import pytest
import torch

import torchnlp
from torchnlp import CharTransformer, MinGRU, MinLSTM, MinRNNLM, scan_log, scan_parallel, scan_sequential


def recurrence(B, T, H, seed=0, dtype=torch.float64):
    """Random a in (0, 1), b (any sign) and h0 of the recurrence h_t = a_t h_{t-1} + b_t."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(B, T, H, generator=g, dtype=dtype) * 0.98 + 0.01
    b = torch.randn(B, T, H, generator=g, dtype=dtype)
    h0 = torch.randn(B, H, generator=g, dtype=dtype)
    return a, b, h0


# -- the scans


@pytest.mark.parametrize("T", [1, 2, 7, 13, 16, 100])
@pytest.mark.parametrize("with_h0", [False, True])
def test_scan_parallel_equals_scan_sequential(T, with_h0):
    a, b, h0 = recurrence(3, T, 4)
    h0 = h0 if with_h0 else None
    expected = scan_sequential(a, b, h0)
    assert expected.shape == (3, T, 4)
    torch.testing.assert_close(scan_parallel(a, b, h0), expected, rtol=0, atol=1e-12)


def test_scan_sequential_is_the_recurrence_and_h0_none_is_zeros():
    a, b, h0 = recurrence(2, 5, 3)
    h = scan_sequential(a, b, h0)
    torch.testing.assert_close(h[:, 0], a[:, 0] * h0 + b[:, 0])
    torch.testing.assert_close(h[:, 3], a[:, 3] * h[:, 2] + b[:, 3])
    torch.testing.assert_close(scan_sequential(a, b), scan_sequential(a, b, torch.zeros_like(h0)))


@pytest.mark.parametrize("T", [1, 2, 7, 13, 16, 100])
@pytest.mark.parametrize("with_h0", [False, True])
def test_scan_log_equals_scan_sequential_on_positive_inputs(T, with_h0):
    a, b, h0 = recurrence(3, T, 4)
    b, h0 = b.abs() + 0.01, h0.abs() + 0.01
    expected = scan_sequential(a, b, h0 if with_h0 else None)
    got = scan_log(a.log(), b.log(), h0.log() if with_h0 else None)
    assert got.shape == (3, T, 4) and bool((got > 0).all())
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=0)


def test_scans_split_in_two_continue_with_the_last_state():
    a, b, h0 = recurrence(2, 11, 3)
    whole = scan_parallel(a, b, h0)
    first = scan_parallel(a[:, :6], b[:, :6], h0)
    second = scan_parallel(a[:, 6:], b[:, 6:], first[:, -1])
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=0, atol=1e-12)


def test_scan_log_stays_finite_where_the_direct_closed_form_underflows_in_float32():
    # h_t = A_t * cumsum(b / A)_t with A = cumprod(a): after 1000 steps of a = 0.5, A_t = 2^-1000 is 0 in
    # float32 (and in float64), b / A is inf and A * inf is nan; in log space nothing underflows.
    T = 1000
    a = torch.full((1, T, 2), 0.5)
    b = torch.ones(1, T, 2)
    A = torch.cumprod(a, dim=1)
    direct = A * torch.cumsum(b / A, dim=1)
    assert not bool(torch.isfinite(direct).all())
    assert bool(torch.isnan(direct[:, -1]).all())
    h = scan_log(a.log(), b.log())
    assert bool(torch.isfinite(h).all())
    # log h_t = A_t + logcumsumexp(...) adds two numbers near -693 and +694: float32 keeps about 5 digits of h
    torch.testing.assert_close(h[:, -1], torch.full((1, 2), 2.0), rtol=1e-4, atol=0)  # the fixed point h = 0.5 h + 1
    torch.testing.assert_close(h, scan_sequential(a, b), rtol=1e-4, atol=0)


def test_scan_gradients_agree():
    a, b, h0 = recurrence(2, 9, 3)
    grads = []
    for scan in (scan_sequential, scan_parallel):
        leaves = [t.clone().requires_grad_() for t in (a, b, h0)]
        (scan(*leaves) ** 2).sum().backward()
        grads.append([leaf.grad for leaf in leaves])
    for one, other in zip(*grads):
        torch.testing.assert_close(one, other, rtol=0, atol=1e-10)


@pytest.mark.parametrize("scan", [scan_sequential, scan_parallel, scan_log])
def test_scans_refuse_bad_inputs(scan):
    a, b, h0 = recurrence(2, 4, 3)
    with pytest.raises(TypeError, match="must be a floating-point tensor"):
        scan(a[0], b[0])
    with pytest.raises(TypeError, match="must be a floating-point tensor"):
        scan(a.tolist(), b)
    with pytest.raises(TypeError, match="must be a floating-point tensor"):
        scan(a, b.long())
    with pytest.raises(ValueError, match="the same shape"):
        scan(a, b[:, :3])
    with pytest.raises(ValueError, match="no step"):
        scan(a[:, :0], b[:, :0])
    with pytest.raises(ValueError, match="same dtype"):
        scan(a, b.float())
    with pytest.raises(ValueError, match=r"\(2, 3\) \(B, H\)"):
        scan(a, b, h0[:1])
    with pytest.raises(ValueError, match="dtype and device"):
        scan(a, b, h0.float())


# -- the cells


def step_by_step(cell, x, h=None):
    """The cell run one step at a time with ``step``: (out (B, T, H), h_T)."""
    out = []
    for t in range(x.size(1)):
        h = cell.step(x[:, t], h)
        out.append(h)
    return torch.stack(out, dim=1), h


@pytest.mark.parametrize("Cell", [MinGRU, MinLSTM])
@pytest.mark.parametrize("T", [1, 7, 33])
def test_cell_forward_equals_its_step_loop(Cell, T):
    torch.manual_seed(0)
    cell = Cell(5, 6).double()
    x = torch.randn(3, T, 5, dtype=torch.float64) * 3  # large inputs reach both branches of g
    out, h = cell(x)
    assert out.shape == (3, T, 6) and h.shape == (3, 6)
    assert bool((out > 0).all())
    expected_out, expected_h = step_by_step(cell, x)
    torch.testing.assert_close(out, expected_out, rtol=0, atol=1e-10)
    torch.testing.assert_close(h, expected_h, rtol=0, atol=1e-10)
    torch.testing.assert_close(h, out[:, -1])
    h0 = torch.rand(3, 6, dtype=torch.float64) + 0.1
    torch.testing.assert_close(cell(x, h0)[0], step_by_step(cell, x, h0)[0], rtol=0, atol=1e-10)


@pytest.mark.parametrize("Cell", [MinGRU, MinLSTM])
def test_cell_state_carried_equals_one_long_call(Cell):
    torch.manual_seed(0)
    cell = Cell(4, 5).double()
    x = torch.randn(2, 20, 4, dtype=torch.float64)
    out, h = cell(x)
    first, h_mid = cell(x[:, :8])
    second, h_end = cell(x[:, 8:], h_mid)
    torch.testing.assert_close(torch.cat([first, second], dim=1), out, rtol=0, atol=1e-10)
    torch.testing.assert_close(h_end, h, rtol=0, atol=1e-10)


def test_min_gru_is_its_formula():
    torch.manual_seed(0)
    cell = MinGRU(3, 4).double()
    x = torch.randn(2, 1, 3, dtype=torch.float64) * 2
    h0 = torch.rand(2, 4, dtype=torch.float64) + 0.1
    z = torch.sigmoid(cell.linear_z(x[:, 0]))
    pre = cell.linear_h(x[:, 0])
    h_tilde = torch.where(pre >= 0, pre + 0.5, torch.sigmoid(pre))
    torch.testing.assert_close(cell(x, h0)[1], (1 - z) * h0 + z * h_tilde)


def test_min_lstm_is_its_formula():
    torch.manual_seed(0)
    cell = MinLSTM(3, 4).double()
    x = torch.randn(2, 1, 3, dtype=torch.float64) * 2
    h0 = torch.rand(2, 4, dtype=torch.float64) + 0.1
    f, i = torch.sigmoid(cell.linear_f(x[:, 0])), torch.sigmoid(cell.linear_i(x[:, 0]))
    pre = cell.linear_h(x[:, 0])
    h_tilde = torch.where(pre >= 0, pre + 0.5, torch.sigmoid(pre))
    torch.testing.assert_close(cell(x, h0)[1], f / (f + i) * h0 + i / (f + i) * h_tilde)


@pytest.mark.parametrize("Cell", [MinGRU, MinLSTM])
def test_cell_gradients_flow_to_every_parameter_the_input_and_h0(Cell):
    torch.manual_seed(0)
    cell = Cell(4, 5)
    x = torch.randn(2, 50, 4, requires_grad=True)
    h0 = (torch.rand(2, 5) + 0.1).requires_grad_()
    out, h = cell(x, h0)
    out.sum().backward()
    for name, p in cell.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()) and float(p.grad.abs().sum()) > 0, name
    assert float(x.grad[:, 0].abs().sum()) > 0  # the first step reaches the loss through all 50
    assert bool(torch.isfinite(h0.grad).all()) and float(h0.grad.abs().sum()) > 0


@pytest.mark.parametrize("Cell", [MinGRU, MinLSTM])
def test_cell_state_with_zeros_is_read_as_zeros_with_finite_gradients(Cell):
    # a float32 state can underflow to 0 (exp of a log below -104): it must not stop training
    torch.manual_seed(0)
    cell = Cell(3, 4)
    x = torch.randn(2, 6, 3)
    h0 = (torch.rand(2, 4) + 0.1) * torch.tensor([0.0, 1.0, 1.0, 0.0])
    h0.requires_grad_()
    out, _ = cell(x, h0)
    torch.testing.assert_close(out, step_by_step(cell, x, h0.detach())[0])
    torch.testing.assert_close(cell(x, torch.zeros(2, 4))[0], cell(x)[0])
    out.sum().backward()
    assert bool(torch.isfinite(h0.grad).all())
    assert all(bool(torch.isfinite(p.grad).all()) for p in cell.parameters())


@pytest.mark.parametrize("Cell", [MinGRU, MinLSTM])
def test_cell_gradients_equal_the_step_loops(Cell):
    torch.manual_seed(0)
    cell = Cell(3, 4).double()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    grads = []
    for run in (lambda: cell(x)[0], lambda: step_by_step(cell, x)[0]):
        cell.zero_grad()
        (run() ** 2).sum().backward()
        grads.append([p.grad.clone() for p in cell.parameters()])
    for one, other in zip(*grads):
        torch.testing.assert_close(one, other, rtol=0, atol=1e-9)


@pytest.mark.parametrize("Cell", [MinGRU, MinLSTM])
def test_cell_refuses_bad_arguments(Cell):
    with pytest.raises(TypeError, match="input_size must be an int"):
        Cell(2.0, 3)
    with pytest.raises(ValueError, match="hidden_size must be at least 1"):
        Cell(2, 0)
    cell = Cell(2, 3)
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor \(B, T, input_size\)"):
        cell(torch.randn(4, 2))
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor \(B, input_size\)"):
        cell.step(torch.randn(4, 1, 2))
    with pytest.raises(TypeError, match="floating-point"):
        cell(torch.ones(4, 1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="must end in input_size = 2"):
        cell(torch.randn(4, 5, 3))
    with pytest.raises(ValueError, match="no step"):
        cell(torch.randn(4, 0, 2))
    with pytest.raises(ValueError, match=r"None or a tensor \(4, 3\)"):
        cell(torch.randn(4, 5, 2), torch.ones(1, 3))
    with pytest.raises(ValueError, match="must not hold negative values or NaN"):
        cell(torch.randn(4, 5, 2), -torch.ones(4, 3))
    with pytest.raises(ValueError, match="must not hold negative values or NaN"):
        cell(torch.randn(4, 5, 2), torch.full((4, 3), math.nan))
    with pytest.raises(ValueError, match="must not hold negative values or NaN"):
        cell.step(torch.randn(4, 2), -torch.ones(4, 3))


# -- the language models

TEXT = "the cat sat on the mat. the dog sat on the log. " * 8


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_min_rnn_lm_shapes_and_state(cell):
    torch.manual_seed(0)
    model = MinRNNLM(11, embed_dim=8, hidden_dim=6, num_layers=3, cell=cell)
    logits, state = model(torch.randint(0, 11, (4, 7)))
    assert logits.shape == (4, 7, 11)
    assert isinstance(state, tuple) and [tuple(h.shape) for h in state] == [(4, 6)] * 3
    assert all(bool((h > 0).all()) for h in state)
    assert isinstance(model.blocks[0].cell, MinGRU if cell == "gru" else MinLSTM)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_min_rnn_lm_state_carried_equals_one_long_sequence_and_step_equals_forward(cell):
    torch.manual_seed(0)
    model = MinRNNLM(9, embed_dim=8, hidden_dim=6, num_layers=2, cell=cell).double().eval()
    x = torch.randint(0, 9, (3, 20))
    logits, state = model(x)
    first, mid = model(x[:, :7])
    second, end = model(x[:, 7:], mid)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits, rtol=0, atol=1e-10)
    for h, h_end in zip(state, end):
        torch.testing.assert_close(h_end, h, rtol=0, atol=1e-10)
    steps, step_state = [], None
    for t in range(x.size(1)):
        out, step_state = model.step(x[:, t], step_state)
        assert out.shape == (3, 9)
        steps.append(out)
    torch.testing.assert_close(torch.stack(steps, dim=1), logits, rtol=0, atol=1e-10)
    for h, h_step in zip(state, step_state):
        torch.testing.assert_close(h_step, h, rtol=0, atol=1e-10)


def test_min_rnn_lm_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = MinRNNLM(9, embed_dim=8, hidden_dim=6, num_layers=2, dropout=0.1)
    logits, _ = model(torch.randint(0, 9, (2, 10)))
    torchnlp.cross_entropy(logits, torch.randint(0, 9, (2, 10))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), name


@pytest.mark.parametrize(
    "make",
    [
        lambda v: MinRNNLM(v, embed_dim=16, hidden_dim=16, num_layers=1),
        lambda v: MinRNNLM(v, embed_dim=16, hidden_dim=16, num_layers=2, cell="lstm", dropout=0.1),
        lambda v: CharTransformer(v, d_model=16, num_heads=2, num_layers=1, context=12, dropout=0.1),
    ],
)
def test_language_models_work_with_train_text_evaluate_text_and_generate(make):
    torchnlp.seed_everything(0)
    vocab = torchnlp.char_vocab(TEXT)
    ids = torch.tensor(vocab.encode(TEXT))
    model = make(len(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = torchnlp.evaluate_text(model, ids, batch_size=4, seq_len=10)
    for _ in range(3):
        result = torchnlp.train_text(model, ids, optimizer, batch_size=4, seq_len=10, clip=1.0, progress=False)
    after = torchnlp.evaluate_text(model, ids, batch_size=4, seq_len=10)
    assert math.isfinite(result["loss"]) and result["samples"] == before["samples"] == after["samples"]
    assert after["loss"] < before["loss"]
    text = torchnlp.generate(model, "the ", vocab, length=30, generator=torch.Generator().manual_seed(0))
    assert text.startswith("the ") and len(text) == 34
    greedy = torchnlp.generate(model, "the ", vocab, length=30, temperature=None)
    assert greedy == torchnlp.generate(model, "the ", vocab, length=30, temperature=None)


def test_min_rnn_lm_refuses_bad_arguments():
    with pytest.raises(ValueError, match="cell must be 'gru'"):
        MinRNNLM(5, cell="GRU")
    with pytest.raises(TypeError, match="num_layers must be an int"):
        MinRNNLM(5, num_layers=1.5)
    with pytest.raises(ValueError, match="dropout must lie in 0..1"):
        MinRNNLM(5, dropout=2)
    model = MinRNNLM(5, embed_dim=4, hidden_dim=3, num_layers=2)
    x = torch.randint(0, 5, (2, 4))
    with pytest.raises(TypeError, match="integer ids"):
        model(x.float())
    with pytest.raises(ValueError, match="outside 0..4"):
        model(x + 5)
    _, state = model(x)
    with pytest.raises(ValueError, match=r"a tuple of 2 tensors \(3, 3\)"):
        model(torch.randint(0, 5, (3, 4)), state)  # a state of another batch size
    with pytest.raises(ValueError, match="a tuple of 2 tensors"):
        model(x, state[:1])
    with pytest.raises(ValueError, match="must not hold negative values"):
        model(x, (state[0], -state[1]))
    with pytest.raises(TypeError, match="x_t must be a 1-D tensor"):
        model.step(x, state)


def test_char_transformer_shapes_state_and_causality():
    torch.manual_seed(0)
    model = CharTransformer(7, d_model=8, num_heads=2, num_layers=2, context=6).eval()
    x = torch.randint(0, 7, (3, 4))
    logits, state = model(x)
    assert logits.shape == (3, 4, 7) and torch.equal(state, x)  # fewer than context - 1 = 5 read: all kept
    logits2, state2 = model(x[:, :3], state)
    assert logits2.shape == (3, 3, 7) and state2.shape == (3, 5)  # the last context - 1 characters read
    assert torch.equal(state2, torch.cat([x, x[:, :3]], dim=1)[:, -5:])
    changed = x.clone()
    changed[:, 2] = (changed[:, 2] + 1) % 7
    torch.testing.assert_close(model(changed)[0][:, :2], logits[:, :2])  # a later character changes nothing before
    assert not torch.allclose(model(changed)[0][:, 2:], logits[:, 2:])


def test_char_transformer_read_in_pieces_equals_one_pass_within_its_context():
    torch.manual_seed(0)
    model = CharTransformer(7, d_model=8, num_heads=2, num_layers=2, context=10).double().eval()
    x = torch.randint(0, 7, (2, 10))
    whole, _ = model(x)
    first, state = model(x[:, :6])
    second, _ = model(x[:, 6:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=0, atol=1e-10)


def test_char_transformer_one_character_at_a_time_sees_the_last_context_characters():
    torch.manual_seed(0)
    context = 5
    model = CharTransformer(7, d_model=8, num_heads=2, num_layers=1, context=context).double().eval()
    x = torch.randint(0, 7, (2, 12))
    state = None
    for t in range(x.size(1)):
        logits, state = model(x[:, t : t + 1], state)
        window = x[:, max(0, t + 1 - context) : t + 1]  # the character and up to context - 1 before it
        torch.testing.assert_close(logits[:, 0], model(window)[0][:, -1], rtol=0, atol=1e-10)
        assert state.shape == (2, min(t + 1, context - 1))


def test_char_transformer_refuses_bad_arguments():
    with pytest.raises(ValueError, match="must be a multiple of num_heads"):
        CharTransformer(5, d_model=10, num_heads=3)
    with pytest.raises(ValueError, match="context must be at least 2"):
        CharTransformer(5, d_model=8, num_heads=2, context=1)
    with pytest.raises(ValueError, match="dropout must lie in 0..1"):
        CharTransformer(5, d_model=8, num_heads=2, dropout=-0.1)
    model = CharTransformer(5, d_model=8, num_heads=2, num_layers=1, context=4)
    with pytest.raises(ValueError, match="more than context = 4"):
        model(torch.randint(0, 5, (2, 5)))
    with pytest.raises(TypeError, match="integer ids"):
        model(torch.rand(2, 3))
    x = torch.randint(0, 5, (2, 3))
    with pytest.raises(ValueError, match=r"ids \(B, <= 3\)"):
        model(x, torch.randint(0, 5, (2, 4)))
    with pytest.raises(ValueError, match="batch of 2"):
        model(x, torch.randint(0, 5, (3, 2)))
    with pytest.raises(TypeError, match="state must be a"):
        model(x, (x,))
