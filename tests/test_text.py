"""Tokenizer, vocabulary, encoding and batching."""

import re

import pytest
import torch

import torchnlp
from torchnlp import Vocab


def reference_basic_english(text):
    """torchtext's basic_english, written with its regular expressions."""
    patterns = [
        (r"\'", " '  "),
        (r"\"", ""),
        (r"\.", " . "),
        (r"<br \/>", " "),
        (r",", " , "),
        (r"\(", " ( "),
        (r"\)", " ) "),
        (r"\!", " ! "),
        (r"\?", " ? "),
        (r"\;", " "),
        (r"\:", " "),
        (r"\s+", " "),
    ]
    text = text.lower()
    for pattern, replacement in patterns:
        text = re.sub(pattern, replacement, text)
    return text.split()


def test_tokenize_rules():
    assert torchnlp.tokenize('He said: "Don\'t (ever) stop!"; ok?<br />Fine.') == [
        "he",
        "said",
        "don",
        "'",
        "t",
        "(",
        "ever",
        ")",
        "stop",
        "!",
        "ok",
        "?",
        "fine",
        ".",
    ]
    assert torchnlp.tokenize("") == []
    assert torchnlp.tokenize("  \t\n ") == []


def test_tokenize_matches_basic_english_on_real_texts(quick):
    rows = torchnlp.read_csv("ag_news/test.csv") + torchnlp.read_csv("imdb/train.csv")[1:500]
    for row in rows:
        text = " ".join(row[1:])
        assert torchnlp.tokenize(text) == reference_basic_english(text)


def test_ag_news_test_split_has_25270_distinct_tokens(quick):
    # The figure in shared/data/README.md, for the whole 7,600-item test split.
    texts = [" ".join(r[1:]) for r in torchnlp.read_csv("ag_news/test.csv")]
    assert len(texts) == 7600
    assert len(Vocab.build(texts)) == 25270 + 2


def test_vocab_order_specials_and_lookup():
    v = Vocab.build(["b a c", "c b", "c"])
    assert v.itos == ["<pad>", "<unk>", "c", "b", "a"]
    assert v.stoi["c"] == 2 and v["<pad>"] == 0 and v["<unk>"] == 1
    assert v["never seen"] == 1 and "never seen" not in v and "a" in v
    assert v.encode("A b, z") == [4, 3, 1, 1]  # ',' is a token too, unknown here
    assert v.decode(torch.tensor([2, 3, 1])) == "c b <unk>"


def test_vocab_ties_are_alphabetical_and_stable():
    texts = ["zeta alpha mid", "mid zeta alpha"]
    assert Vocab.build(texts).itos[2:] == ["alpha", "mid", "zeta"]
    assert Vocab.build(reversed(texts)).itos == Vocab.build(texts).itos


def test_vocab_min_freq_and_max_tokens():
    texts = ["a a a b b c"]
    assert Vocab.build(texts, min_freq=2).itos == ["<pad>", "<unk>", "a", "b"]
    assert Vocab.build(texts, max_tokens=3).itos == ["<pad>", "<unk>", "a"]
    with pytest.raises(ValueError, match="max_tokens"):
        Vocab.build(texts, max_tokens=2)
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(texts, min_freq=0)


def test_vocab_bad_input():
    with pytest.raises(ValueError, match="no token"):
        Vocab.build([])
    with pytest.raises(ValueError, match="no token"):
        Vocab.build(["", "   "])
    with pytest.raises(ValueError, match="no token"):
        Vocab.build(["a"], min_freq=2)
    with pytest.raises(ValueError, match="distinct"):
        Vocab(["<pad>", "<unk>", "a", "a"])


def test_vocab_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"texts must be a list of strings \(for one text, pass \[text\]\)"):
        Vocab.build("a b c")  # one string would give a vocabulary of its characters
    for texts in (None, 5):
        with pytest.raises(TypeError, match="texts must be a list of strings"):
            Vocab.build(texts)
    with pytest.raises(TypeError, match="texts must hold strings, but item 1 is int"):
        Vocab.build(["a b", 7])
    with pytest.raises(TypeError, match="min_freq must be an int"):
        Vocab.build(["a a b"], min_freq=1.5)
    with pytest.raises(TypeError, match="max_tokens must be an int"):
        Vocab.build(["a a b"], max_tokens="3")
    with pytest.raises(TypeError, match="specials must be a tuple of str"):
        Vocab.build(["a b"], specials="<pad>")  # would give the specials '<', 'p', 'a', 'd', '>'
    with pytest.raises(TypeError, match="tokenizer must be a function"):
        Vocab.build(["a b"], tokenizer="basic_english")
    with pytest.raises(ValueError, match="<pad> must be at index 0"):
        Vocab.build(["a b"], specials=("<unk>", "<pad>"))  # padding with 0 would read as <unk>
    with pytest.raises(TypeError, match="itos must be a list of str"):
        Vocab("abc")
    with pytest.raises(ValueError, match="unk=None"):
        Vocab(["<pad>", "a"])


def test_decode_rejects_indices_out_of_range_or_not_ints():
    v = Vocab.build(["good film", "bad film"])
    for bad in ([-1], [len(v)], [2, 99]):  # -1 would silently be the last token
        with pytest.raises(ValueError, match=r"indices must be ints in 0\.\.4"):
            v.decode(bad)
    with pytest.raises(ValueError, match="indices must be ints"):
        v.decode([2.7])  # int() would truncate it
    for bad in (torch.tensor([2.7, 3.2]), torch.tensor([[2, 3]])):
        with pytest.raises(TypeError, match="indices must be a 1-D tensor of integer ids"):
            v.decode(bad)
    with pytest.raises(TypeError, match="indices must be a list of ints"):
        v.decode("2 3")
    assert v.decode(torch.tensor([2, 3], dtype=torch.int32)) == "film bad" and v.decode([]) == ""


def test_vocab_lookup_and_iteration():
    v = Vocab.build(["good film", "bad film"])
    with pytest.raises(TypeError, match=r"vocab.itos\[i\]"):
        v[3]  # an index is not a token: it would silently be <unk>
    assert list(v) == v.itos  # iterating used to call v[0], v[1], ... forever
    assert all(token in v for token in ["<pad>", "<unk>", "good", "film"]) and "<unk>" not in torchnlp.char_vocab("ab")
    assert list(torchnlp.char_vocab("abca")) == ["a", "b", "c"]
    for bad in (None, ["good", "film"]):
        with pytest.raises(TypeError, match="text must be a str"):
            v.encode(bad)
    with pytest.raises(TypeError, match="text must be a str"):
        torchnlp.tokenize(None)


def test_pad_and_unk_indices_belong_to_the_vocabulary():
    words, chars = Vocab.build(["good film"]), torchnlp.char_vocab("good film")
    assert (words.pad_index, words.unk_index) == (0, 1)
    assert (chars.pad_index, chars.unk_index) == (None, None)  # index 0 and 1 are real characters
    no_pad = Vocab.build(["good film"], specials=("<unk>",))
    assert (no_pad.pad_index, no_pad.unk_index) == (None, 0)
    assert torchnlp.encode_dataset([(0, "")], no_pad)[0][0].tolist() == [0]
    with pytest.raises(ValueError, match="text 1 has no token, and the vocabulary has no <unk>"):
        torchnlp.encode_dataset([(0, "go"), (1, "")], chars)  # would have encoded '' as the character 'o'


def test_char_vocab():
    v = torchnlp.char_vocab("abracadabra")
    assert v.itos == ["a", "b", "r", "c", "d"]
    assert v.decode(v.encode("cab")) == "cab"
    assert len(v) == 5
    with pytest.raises(KeyError, match="'z'"):
        v.encode("z")


def test_encode_dataset():
    v = Vocab.build(["the cat sat"])
    data = torchnlp.encode_dataset([(0, "the cat sat"), (1, ""), (0, "the cat")], v, max_len=2)
    assert [label for _, label in data] == [0, 1, 0]  # items are (ids, label): inputs first
    assert data[0][0].tolist() == [v["the"], v["cat"]]
    assert data[1][0].tolist() == [v.unk_index] == [1]  # an empty text still has a length of 1
    assert data[0][0].dtype == torch.int64
    with pytest.raises(ValueError, match="max_len"):
        torchnlp.encode_dataset([(0, "a")], v, max_len=0)
    with pytest.raises(TypeError, match=r"\(label, text\) pair"):
        torchnlp.encode_dataset([("a text", 0)], v)
    with pytest.raises(TypeError, match="the label of item 0 of data must be an int class index"):
        torchnlp.encode_dataset([("pos", "the cat")], v)
    with pytest.raises(TypeError, match="vocab must be a Vocab"):
        torchnlp.encode_dataset([(0, "the cat")], "the cat")
    with pytest.raises(TypeError, match="max_len must be an int"):
        torchnlp.encode_dataset([(0, "the cat")], v, max_len=2.5)


def test_pad_length_and_padify():
    batch = [(torch.tensor([5, 6, 7]), 2), (torch.tensor([8]), 0), (torch.tensor([9, 4]), 1)]
    padded, lengths, labels = torchnlp.pad_length(batch)  # inputs first, target last
    assert labels.tolist() == [2, 0, 1]
    assert padded.tolist() == [[5, 6, 7], [8, 0, 0], [9, 4, 0]]
    assert lengths.tolist() == [3, 1, 2] and lengths.device.type == "cpu"
    assert padded.dtype == lengths.dtype == labels.dtype == torch.int64
    padded2, labels2 = torchnlp.padify(batch)
    assert torch.equal(labels, labels2) and torch.equal(padded, padded2)


def test_pad_length_bad_input():
    with pytest.raises(ValueError, match="length 0"):
        torchnlp.pad_length([(torch.tensor([1, 2]), 0), (torch.tensor([], dtype=torch.int64), 1)])
    with pytest.raises(ValueError, match="empty batch"):
        torchnlp.padify([])
    with pytest.raises(TypeError, match="old .label, ids. order"):
        torchnlp.pad_length([(0, torch.tensor([1, 2]))])
    with pytest.raises(TypeError, match="encode_dataset"):
        torchnlp.padify([(0, "raw text")])
    with pytest.raises(TypeError, match="1-D int64"):
        torchnlp.pad_length([(torch.tensor([1.0, 2.0]), 0)])
    with pytest.raises(TypeError, match="the label of item 1 of the batch must be an int"):
        torchnlp.pad_length([(torch.tensor([1, 2]), 0), (torch.tensor([3]), 0.7)])  # int() would make it 0
    with pytest.raises(TypeError, match=r"for one item, pass \[item\]"):
        torchnlp.pad_length((torch.tensor([1, 2]), 0))
    assert torchnlp.pad_length([(torch.tensor([1]), torch.tensor(3))])[2].tolist() == [3]


@pytest.mark.parametrize("bucket", [True, False])
def test_make_loader_bad_input(bucket):
    with pytest.raises(TypeError, match="use encode_dataset"):
        torchnlp.make_loader([(0, "good film"), (1, "bad")], bucket=bucket)
    with pytest.raises(ValueError, match="data is empty"):
        torchnlp.make_loader([], bucket=bucket)
    data = [(torch.tensor([1, 2]), 0)]
    with pytest.raises(TypeError, match="batch_size must be an int"):
        torchnlp.make_loader(data, batch_size=2.5, bucket=bucket)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        torchnlp.make_loader(data, batch_size=0, bucket=bucket)


def test_bucket_sampler_covers_every_item_once_with_similar_lengths():
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(1, 200, (1000,), generator=g).tolist()
    sampler = torchnlp.BucketBatchSampler(lengths, batch_size=32, pool=10, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 32
    assert sorted(i for b in batches for i in b) == list(range(1000))

    def padding(batches):
        return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)

    random_batches = [list(range(i, min(i + 32, 1000))) for i in range(0, 1000, 32)]
    assert padding(batches) < padding(random_batches) / 5


def test_bucket_sampler_reproducible_and_reshuffled_each_epoch():
    lengths = list(range(1, 101))
    a = torchnlp.BucketBatchSampler(lengths, 10, seed=3)
    b = torchnlp.BucketBatchSampler(lengths, 10, seed=3)
    first, second = list(a), list(a)
    assert first == list(b)
    assert first != second
    ordered = list(torchnlp.BucketBatchSampler(lengths, 10, shuffle=False))
    assert ordered == [list(range(i, i + 10)) for i in range(0, 100, 10)]
    with pytest.raises(ValueError, match="batch_size"):
        torchnlp.BucketBatchSampler(lengths, 0)
    with pytest.raises(ValueError, match="pool must be at least 1"):
        torchnlp.BucketBatchSampler(lengths, 10, pool=0)
    with pytest.raises(TypeError, match="lengths must be a list of ints"):
        torchnlp.BucketBatchSampler(torch.ones(3, 2, dtype=torch.long), 2)


@pytest.mark.parametrize("bucket", [True, False])
def test_make_loader(bucket):
    data = [(torch.arange(1, 2 + i % 7), i % 3) for i in range(50)]
    loader = torchnlp.make_loader(data, batch_size=8, bucket=bucket)
    seen = 0
    for padded, lengths, labels in loader:
        assert padded.shape == (len(labels), int(lengths.max()))
        assert all(
            padded[i, : lengths[i]].min() > 0 and padded[i, lengths[i] :].eq(0).all() for i in range(len(labels))
        )
        seen += len(labels)
    assert seen == 50
    padded, labels = next(iter(torchnlp.make_loader(data, batch_size=8, bucket=bucket, collate_fn=torchnlp.padify)))
    assert padded.shape[0] == labels.shape[0] == 8


def test_vocab_and_batching_arguments_are_checked():
    for call, error, message in [
        (lambda: Vocab(None), TypeError, "itos must be a list of str"),
        (lambda: Vocab(["<pad>", "<unk>", "a"], tokenizer=None), TypeError, "tokenizer must be a function"),
        (lambda: Vocab(["<pad>", "<unk>", "a"], sep=None), TypeError, "sep must be a str"),
        (lambda: Vocab.build(["a"], specials=None), TypeError, "specials must be a tuple of str"),
        (lambda: torchnlp.encode_dataset(None, Vocab.build(["a"])), TypeError, "data must be a list of"),
        (lambda: torchnlp.pad_length(None), TypeError, "batch must be a list of items"),
        (lambda: torchnlp.BucketBatchSampler([], 4), ValueError, "lengths is empty"),
        (lambda: torchnlp.BucketBatchSampler([1, 2], 4, seed="x"), TypeError, "seed must be an int"),
        (lambda: torchnlp.make_loader(None), TypeError, "data must be a list of"),
        (lambda: torchnlp.make_loader([(torch.tensor([1]), 0)], seed="x"), TypeError, "seed must be an int"),
        (lambda: torchnlp.make_loader([(torch.tensor([1]), 0)], shuffle="no"), TypeError, "shuffle must be True"),
    ]:
        with pytest.raises(error, match=message):
            call()


def test_vocab_keeps_specials_once_even_when_the_texts_hold_them():
    assert Vocab.build(["<unk> a <pad> a"]).itos == ["<pad>", "<unk>", "a"]


def test_bucket_sampler_shuffles_the_order_of_batches_and_follows_its_seed():
    lengths = list(range(1, 1001))
    batches = list(torchnlp.BucketBatchSampler(lengths, batch_size=10, pool=100, seed=0))  # one pool of 100 batches
    longest = [max(lengths[i] for i in b) for b in batches]
    assert sorted(longest) == list(range(10, 1001, 10)) and longest != sorted(longest)  # short ones not all first
    assert batches != list(torchnlp.BucketBatchSampler(lengths, batch_size=10, pool=100, seed=1))


@pytest.mark.parametrize("bucket", [True, False])
def test_make_loader_order_without_shuffle_and_with_a_seed(bucket):
    data = [(torch.arange(1, 2 + (i * 5) % 7), i) for i in range(40)]  # lengths 1..7, the label is the item's index

    def order(loader):
        return [y.tolist() for *_, y in loader]

    in_order = order(torchnlp.make_loader(data, batch_size=8, shuffle=False, bucket=bucket))
    if bucket:  # by length, shortest first
        assert sum(in_order, []) == sorted(range(40), key=lambda i: (len(data[i][0]), i))
    else:
        assert in_order == [list(range(i, i + 8)) for i in range(0, 40, 8)]
    seeded = order(torchnlp.make_loader(data, batch_size=8, bucket=bucket, seed=1))
    assert seeded == order(torchnlp.make_loader(data, batch_size=8, bucket=bucket, seed=1))
    assert seeded != order(torchnlp.make_loader(data, batch_size=8, bucket=bucket, seed=2))
    assert sorted(sum(seeded, [])) == list(range(40))


def test_encode_dataset_and_vocab_read_a_random_split_subset():
    """Lesson 04 encodes the Subsets of torch.utils.data.random_split (they have __getitem__, no __iter__)."""
    data = [(0, "good film"), (1, "bad film"), (0, "good plot"), (1, "bad plot")]
    train, val = torch.utils.data.random_split(data, [2, 2], generator=torch.Generator().manual_seed(0))
    vocab = Vocab.build(text for _, text in train)
    encoded = [(ids.tolist(), label) for ids, label in torchnlp.encode_dataset(train, vocab)]
    assert encoded == [(vocab.encode(text), label) for label, text in train]
    assert len(torchnlp.encode_dataset(val, vocab)) == 2
