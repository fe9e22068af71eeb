"""Calls from the seed courses (Microsoft's "PyTorch Fundamentals" RNN unit, the AI-For-Beginners RNN lesson).

Each old call either works or fails with a message that names its replacement (README: "Coming from the
seed courses").
"""

import copy
import re
from pathlib import Path

import pytest
import torch

import torchnlp

README = Path(__file__).resolve().parents[1] / "README.md"


SEED_NAMES = [
    ("encode", "vocab.encode(text)"),
    ("vocab", "torchnlp.load_dataset()"),
    ("tokenizer", "torchnlp.tokenize(text)"),
    ("train_epoch_emb", "pack=True"),
    ("offsetify", "torchnlp.pad_length"),
]


def test_module_level_device_still_works():
    assert torchnlp.device == torchnlp.get_device()


@pytest.mark.parametrize(("name", "replacement"), SEED_NAMES)
def test_removed_names_say_what_replaced_them(name, replacement):
    removed = getattr(torchnlp, name)
    for use in (lambda: removed("some text"), lambda: len(removed), lambda: removed.itos, lambda: list(removed)):
        with pytest.raises(AttributeError, match=f"torchnlp.{name} was part of the seed course's") as error:
            use()
        assert replacement in str(error.value)
    assert replacement in repr(removed)  # shown, not raised, where a notebook displays it
    with pytest.raises(AttributeError, match=re.escape(replacement)):
        len(copy.deepcopy(removed))  # a copy (e.g. of a notebook's namespace) explains itself too
    assert f"`{name}" in README.read_text()  # and the README's migration table has a row for it


def test_star_import_gives_the_seed_names_with_their_explanations():
    """The seed notebooks start with `from torchnlp import *` and use the names bare, as below."""
    namespace = {}
    exec("from torchnlp import *", namespace)
    assert namespace["device"] == torchnlp.get_device()
    model = torchnlp.RNNClassifier(10, 2, embed_dim=4, hidden_dim=4)
    scope = namespace | {"model": model}
    exec("net = model.to(device)", scope)
    assert scope["net"] is model
    loader = torchnlp.make_loader([(torch.tensor([2, 3]), 0)], batch_size=1)
    uses = {
        "encode": "encode('a text')",
        "vocab": "len(vocab)",
        "tokenizer": "tokenizer('a text')",
        "train_epoch_emb": "train_epoch_emb(net, loader, lr=4, epoch_size=10, use_pack_sequence=True)",
        "offsetify": "next(iter(torch.utils.data.DataLoader([(0, 'a text')], collate_fn=offsetify)))",
    }
    for name, replacement in SEED_NAMES:
        with pytest.raises(AttributeError, match=f"torchnlp.{name} was part of the seed course's") as error:
            exec(uses[name], namespace | {"net": model, "loader": loader})
        assert replacement in str(error.value)
    for name in ("vocab", "tokenizer"):  # the seed's vocab.get_stoi(), vocab['word'], 'word' in vocab...
        for use in (f"{name}.get_stoi()", f"{name}['word']", f"'word' in {name}", f"str({name})"):
            with pytest.raises(AttributeError, match=f"torchnlp.{name} was part of the seed course's"):
                exec(use, namespace)
    # ...and the course's own names, and the modules the seed's star import gave, are there as before
    assert namespace["load_dataset"] is torchnlp.load_dataset and namespace["padify"] is torchnlp.padify
    assert namespace["torch"] is torch


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
