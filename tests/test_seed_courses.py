"""Calls from the seed courses (Microsoft's "PyTorch Fundamentals" RNN unit, the AI-For-Beginners RNN lesson).

Each old call either works or fails with a message that names its replacement (README: "Coming from the
seed courses").
"""

from pathlib import Path

import pytest
import torch

import torchnlp

README = Path(__file__).resolve().parents[1] / "README.md"


def test_module_level_device_still_works():
    assert torchnlp.device == torchnlp.get_device()


@pytest.mark.parametrize(
    ("name", "replacement"),
    [
        ("encode", "vocab.encode(text)"),
        ("vocab", "torchnlp.load_dataset()"),
        ("tokenizer", "torchnlp.tokenize(text)"),
        ("train_epoch_emb", "pack=True"),
        ("offsetify", "torchnlp.pad_length"),
    ],
)
def test_removed_names_say_what_replaced_them(name, replacement):
    with pytest.raises(AttributeError, match=f"torchnlp.{name} was part of the seed course's") as error:
        getattr(torchnlp, name)
    assert replacement in str(error.value)
    assert f"`{name}" in README.read_text()  # and the README's migration table has a row for it


def test_other_missing_names_are_plain_attribute_errors():
    assert not hasattr(torchnlp, "no_such_name")
    with pytest.raises(AttributeError, match="module 'torchnlp' has no attribute 'no_such_name'"):
        torchnlp.no_such_name  # noqa: B018


def test_train_epoch_with_lr_names_make_adam_and_train():
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    loader = torchnlp.make_loader([(torch.tensor([2, 3]), 0), (torch.tensor([4]), 1)], batch_size=2)
    with pytest.raises(TypeError, match=r"torchnlp.make_adam\(model, lr\).*torchnlp.train\(model, loader"):
        torchnlp.train_epoch(model, loader, lr=0.001)


@pytest.mark.parametrize("collate_fn", [torchnlp.padify, torchnlp.pad_length])
def test_collating_raw_label_text_pairs_names_encode_dataset(collate_fn):
    loader = torch.utils.data.DataLoader([(1, "good film"), (2, "bad film")], batch_size=2, collate_fn=collate_fn)
    with pytest.raises(TypeError, match=r"texts must be encoded first: use encode_dataset\(data, vocab\)"):
        next(iter(loader))


def test_labels_minus_one_say_labels_are_already_zero_based():
    model = torchnlp.RNNClassifier(10, 4, embed_dim=4, hidden_dim=4)
    data = [(torch.tensor([2, 3]), label - 1) for label in (0, 1, 2, 3)]  # AG News labels 0..3, minus 1
    loader = torchnlp.make_loader(data, batch_size=4)
    with pytest.raises(ValueError, match="got -1..2: labels are already 0-based"):
        torchnlp.train_epoch(model, loader, torchnlp.make_adam(model), progress=False)
