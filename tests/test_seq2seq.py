"""Sequence to sequence: CMUdict, splitting by word, batches of pairs, beam search, error rates."""

import hashlib
import itertools
import math

import pytest
import torch

import torchnlp


def test_load_cmudict_quick(quick):
    entries = torchnlp.load_cmudict()
    words = {w for w, _ in entries}
    assert 6000 <= len(entries) < 7000 and len(words) == 6000
    assert all(phonemes and all(p.isupper() or p[:-1].isupper() for p in phonemes) for _, phonemes in entries)
    assert not any("#" in p or "(" in w for w, phonemes in entries for p in phonemes)


def test_load_cmudict_full(full):
    entries = torchnlp.load_cmudict()
    assert len(entries) == 135_166 and len({w for w, _ in entries}) == 126_052
    assert [p for w, p in entries if w == "abandon"] == [["AH0", "B", "AE1", "N", "D", "AH0", "N"]]
    assert [p for w, p in entries if w == "tomato"] == [
        ["T", "AH0", "M", "EY1", "T", "OW2"],
        ["T", "AH0", "M", "AA1", "T", "OW2"],
    ]
    assert ("aalborg", ["AO1", "L", "B", "AO0", "R", "G"]) in entries  # its '# place, danish' comment dropped


def test_split_by_word_keeps_every_pronunciation_of_a_word_together():
    entries = [(f"w{i}", [str(j)]) for i in range(200) for j in range(1 + i % 3)]
    parts = torchnlp.split_by_word(entries, (0.8, 0.1, 0.1), seed=1)
    words = [{w for w, _ in part} for part in parts]
    assert [len(w) for w in words] == [160, 20, 20]
    assert not (words[0] & words[1] or words[0] & words[2] or words[1] & words[2])
    assert sum(len(p) for p in parts) == len(entries)
    for part, part_words in zip(parts, words):
        assert len(part) == sum(1 + int(w[1:]) % 3 for w in part_words)  # all pronunciations came along
    assert parts == torchnlp.split_by_word(entries, (0.8, 0.1, 0.1), seed=1)
    assert parts != torchnlp.split_by_word(entries, (0.8, 0.1, 0.1), seed=2)
    with pytest.raises(ValueError, match="fractions"):
        torchnlp.split_by_word(entries, (0.8, 0.3, 0.1))
    with pytest.raises(ValueError, match="fractions must be three non-negative numbers"):
        torchnlp.split_by_word(entries, (1.2, -0.1, -0.1))  # adds up to 1, but no part can be negative


def test_split_by_word_is_the_same_in_every_process():
    entries = [(w, ["P"]) for w in ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog"]]
    parts = torchnlp.split_by_word(entries, (0.6, 0.2, 0.2), seed=0)
    # the words are sorted, then shuffled with the seed: the same parts whatever Python's string hashing
    assert [[w for w, _ in part] for part in parts] == [
        ["quick", "brown", "fox", "jumps", "lazy"],
        ["a", "dog"],
        ["the", "over"],
    ]


def test_pad_pairs():
    batch = [(torch.tensor([3, 4, 5]), torch.tensor([1, 7, 8, 2])), (torch.tensor([6]), torch.tensor([1, 9, 2]))]
    x, lengths, y_in, y = torchnlp.pad_pairs(batch)
    assert x.tolist() == [[3, 4, 5], [6, 0, 0]] and lengths.tolist() == [3, 1]
    assert y_in.tolist() == [[1, 7, 8], [1, 9, 0]]  # the decoder reads <bos> and the true previous tokens
    assert y.tolist() == [[7, 8, 2], [9, 2, -100]]  # and predicts the next ones; padding is ignored
    with pytest.raises(ValueError, match="bos"):
        torchnlp.pad_pairs([(torch.tensor([3]), torch.tensor([1]))])


def random_decoder(vocab_size=5, seed=0):
    """A step function whose next-token distribution depends on the whole prefix (kept in the state)."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(vocab_size, vocab_size, vocab_size, generator=g) * 2

    def step(tokens, state):  # state: (K, 2), the last two tokens
        state = torch.cat([state[:, 1:], tokens[:, None].float()], dim=1)
        a, b = state[:, 0].long(), state[:, 1].long()
        return table[a, b].log_softmax(-1), state

    return step


def sequence_log_prob(step, tokens, bos, eos):
    state, total = torch.zeros(1, 2), 0.0
    for previous, token in zip([bos, *tokens], [*tokens, eos]):
        log_probs, state = step(torch.tensor([previous]), state)
        total += log_probs[0, token].item()
    return total


@pytest.mark.parametrize("seed", range(5))
def test_beam_size_one_is_greedy_decoding(seed):
    step, bos, eos = random_decoder(seed=seed), 0, 1
    greedy, state, token = [], torch.zeros(1, 2), torch.tensor([bos])
    for _ in range(10):
        log_probs, state = step(token, state)
        token = log_probs.argmax(-1)
        if token.item() == eos:
            break
        greedy.append(token.item())
    tokens, log_prob = torchnlp.beam_search(step, torch.zeros(1, 2), bos, eos, beam_size=1, max_len=10)
    assert tokens == greedy
    if len(greedy) < 10:
        assert log_prob == pytest.approx(sequence_log_prob(step, tokens, bos, eos), abs=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_a_wide_beam_finds_the_most_likely_sequence(seed):
    step, bos, eos, max_len = random_decoder(vocab_size=4, seed=seed), 0, 1, 5
    # Every sequence of tokens {0, 2, 3} shorter than max_len, ended by eos: the exhaustive best.
    candidates = [list(c) for n in range(max_len) for c in itertools.product([0, 2, 3], repeat=n)]
    best = max(candidates, key=lambda c: sequence_log_prob(step, c, bos, eos))
    tokens, log_prob = torchnlp.beam_search(step, torch.zeros(1, 2), bos, eos, beam_size=4**max_len, max_len=max_len)
    assert tokens == best
    assert log_prob == pytest.approx(sequence_log_prob(step, best, bos, eos), abs=1e-5)
    narrow, narrow_log_prob = torchnlp.beam_search(step, torch.zeros(1, 2), bos, eos, beam_size=2, max_len=max_len)
    assert narrow_log_prob <= log_prob + 1e-6


def test_beam_search_stops_at_max_len_and_checks_its_arguments():
    never_ends = lambda tokens, state: (torch.tensor([[0.0, -math.inf, -1.0]]).expand(len(tokens), 3), state)  # noqa: E731
    tokens, _ = torchnlp.beam_search(never_ends, torch.zeros(1), bos=0, eos=1, beam_size=2, max_len=4)
    assert len(tokens) == 4
    tokens, log_prob = torchnlp.beam_search(never_ends, torch.zeros(1), bos=0, eos=1, beam_size=3, max_len=3)
    assert (tokens, log_prob) == ([0, 0, 0], 0.0)  # the most likely of the unfinished sequences
    with pytest.raises(ValueError, match="beam_size"):
        torchnlp.beam_search(never_ends, torch.zeros(1), bos=0, eos=1, beam_size=0)
    with pytest.raises(ValueError, match="max_len"):
        torchnlp.beam_search(never_ends, torch.zeros(1), bos=0, eos=1, max_len=0)


def test_edit_distance():
    assert torchnlp.edit_distance("kitten", "sitting") == 3
    assert torchnlp.edit_distance([], []) == 0
    assert torchnlp.edit_distance(["AH0"], []) == 1
    assert torchnlp.edit_distance(["K", "AE1", "T"], ["K", "AE1", "T"]) == 0
    assert torchnlp.edit_distance("ab", "ba") == 2  # no transpositions: two substitutions


def test_error_rates_take_the_closest_pronunciation_and_optionally_ignore_stress():
    predictions = [["T", "AH0", "M", "EY1", "T", "OW2"], ["R", "IY1", "D"], ["K", "AE1", "T", "S"]]
    references = [
        [["T", "AH0", "M", "AA1", "T", "OW2"], ["T", "AH0", "M", "EY1", "T", "OW2"]],  # matches the second
        [["R", "EH1", "D"], ["R", "IY0", "D"]],  # one substitution from either; ignoring stress: right
        [["K", "AE1", "T"]],  # one insertion
    ]
    result = torchnlp.error_rates(predictions, references)
    assert result["wer"] == pytest.approx(2 / 3)
    assert result["per"] == pytest.approx((0 + 1 + 1) / (6 + 3 + 3))
    stress_free = torchnlp.error_rates(predictions, references, stress=False)
    assert stress_free["wer"] == pytest.approx(1 / 3) and stress_free["per"] == pytest.approx(1 / 12)
    assert torchnlp.strip_stress(["AH0", "B", "ER1"]) == ["AH", "B", "ER"]
    with pytest.raises(ValueError, match="one prediction per word"):
        torchnlp.error_rates(predictions[:2], references)


def test_split_and_pad_pairs_check_their_arguments():
    entries = [("a", ["AH0"]), ("b", ["B"])]
    for fractions in (None, (float("nan"), 0.5, 0.5), (1, "a", 0), (0.5, 0.5)):
        with pytest.raises(ValueError, match="fractions must be three non-negative numbers"):
            torchnlp.split_by_word(entries, fractions)
    for bad, message in [(None, "entries must be a list of"), (["abc"], "but item 0 is 'abc'")]:
        with pytest.raises(TypeError, match=message):
            torchnlp.split_by_word(bad)
    with pytest.raises(TypeError, match="seed must be an int"):  # None gave a different split at every call
        torchnlp.split_by_word(entries, seed=None)
    assert torchnlp.split_by_word(iter(entries), (1.0, 0.0, 0.0))[0] == entries  # a generator gave empty parts
    assert torchnlp.split_by_word([]) == ([], [], [])
    with pytest.raises(TypeError, match="batch must be a list"):
        torchnlp.pad_pairs(None)
    for pair in (([1, 2], [1, 3, 2]), (torch.tensor([1]), torch.tensor([1, 2]), 3)):
        with pytest.raises(TypeError, match=r"item 0 of the batch must be \(source ids, target ids\)"):
            torchnlp.pad_pairs([pair])


def test_beam_search_checks_its_arguments_and_its_step():
    uniform = lambda tokens, state: (torch.full((len(tokens), 5), -math.log(5)), state)  # noqa: E731
    for kwargs, error, message in [
        (dict(beam_size="2"), TypeError, "beam_size must be an int"),
        (dict(beam_size=2.5), TypeError, "beam_size must be an int"),
        (dict(max_len=0), ValueError, "max_len must be at least 1"),
        (dict(bos="<bos>"), TypeError, "bos must be an int"),
        (dict(eos=99), ValueError, "eos 99 is not a token of step's 5 outputs"),  # ran max_len steps before
        (dict(step=None), TypeError, "step must be a function"),
    ]:
        args = dict(step=uniform, state=torch.zeros(1), bos=0, eos=1) | kwargs
        with pytest.raises(error, match=message):
            torchnlp.beam_search(**args)
    for log_probs, message in [
        (float("-inf"), "every continuation a log-probability of -inf"),  # returned a sequence of garbage
        (float("nan"), "step must return log-probabilities"),
        (0.5, r"step must return log-probabilities \(at most 0"),  # probabilities or logits
    ]:
        step = lambda tokens, state, value=log_probs: (torch.full((len(tokens), 5), value), state)  # noqa: E731
        with pytest.raises(ValueError, match=message):
            torchnlp.beam_search(step, torch.zeros(1), bos=0, eos=1)
    with pytest.raises(ValueError, match=r"step must return log_probs \(K, V\) for its K = 1 sequences"):
        torchnlp.beam_search(lambda tokens, state: (torch.zeros(5), state), torch.zeros(1), bos=0, eos=1)


def test_error_rates_refuse_inputs_of_another_shape():
    cat = ["K", "AE1", "T"]
    for predictions, references, message in [
        ([cat], [cat], r"references\[0\] must be a non-empty list of pronunciations"),  # scored 'K' vs cat
        (["K AE1 T"], [[cat]], r"predictions\[0\] must be a list of phonemes"),  # scored letters
        ([cat], [[]], r"references\[0\] must be a non-empty list"),  # min() of an empty sequence
        ([cat], [[[]]], r"each a non-empty list of phonemes"),  # the PER divided by 0
        (None, None, "predictions must be a list with one item per word"),
    ]:
        with pytest.raises(TypeError, match=message):
            torchnlp.error_rates(predictions, references)
    with pytest.raises(TypeError, match="stress must be True or False"):
        torchnlp.error_rates([cat], [[cat]], stress="no")
    for phonemes in ("AH0", None, [1, 2]):  # 'AH0' gave ['A', 'H', '']
        with pytest.raises(TypeError, match="phonemes must be a list of str"):
            torchnlp.strip_stress(phonemes)
    for a, b in ((None, "a"), (5, [1])):
        with pytest.raises(TypeError, match="must be a sequence"):
            torchnlp.edit_distance(a, b)


def test_a_blank_line_in_cmudict_raises_a_data_error(no_data, monkeypatch, tmp_path):
    content = b"a AH0\n\nb B IY1\n"
    folder = tmp_path / "data"
    (folder / "cmudict").mkdir(parents=True)
    (folder / "cmudict" / "cmudict.dict").write_bytes(content)
    monkeypatch.setenv("TORCHNLP_DATA", str(folder))
    sha256 = hashlib.sha256(content).hexdigest()
    monkeypatch.setitem(
        torchnlp.DATA_FILES, "cmudict/cmudict.dict", ("CMUdict", "http://127.0.0.1:9/none", sha256, 100)
    )
    with pytest.raises(torchnlp.DataError, match="line 2 has no word and phonemes"):  # failed to unpack before
        torchnlp.load_cmudict()

    with pytest.raises(ValueError, match="one prediction per word"):
        torchnlp.error_rates([], [])  # 0 / 0 before
