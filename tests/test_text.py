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
    assert data[1][0].tolist() == [Vocab.UNK]  # an empty text still has a length of 1
    assert data[0][0].dtype == torch.int64
    with pytest.raises(ValueError, match="max_len"):
        torchnlp.encode_dataset([(0, "a")], v, max_len=0)
    with pytest.raises(TypeError, match=r"\(label, text\) pair"):
        torchnlp.encode_dataset([("a text", 0)], v)


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
