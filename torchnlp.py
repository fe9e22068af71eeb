"""Helpers for the course *Recurrent Neural Networks with PyTorch*.

One file, read top to bottom:

1. environment: ``quick_mode``, ``get_device``, ``cpu_has_bf16``, ``seed_everything``, ``clock``;
2. data files: where a file comes from (``data_folders``: ``TORCHNLP_DATA``,
   then ``cache_dir``; ``find_data_file``, ``read_data_file``, ``read_csv``;
   a verified ``download_data_file`` with ``download`` and
   ``convert_imdb_archive``) and the data sets (``load_ag_news``,
   ``load_imdb``, ``load_book``, ``load_dataset``); problems raise ``DataError``;
3. text: the ``basic_english`` ``tokenize`` and a ``Vocab``;
4. batching: encode once (``encode_dataset``), pad (``pad_length``/``padify``),
   bucket by length (``BucketBatchSampler``, ``make_loader``);
5. models: ``RNNClassifier`` and the character model ``CharLSTM`` the lessons
   reuse, ``rnn_padded`` (any RNN over a padded batch, exactly) with
   ``reverse_padded`` and ``check_lengths``, ``count_parameters``;
6. loops: ``make_adam`` (with ``MultiOptimizer`` and
   ``supports_sparse_gradients``), ``cross_entropy``, ``run_epoch``,
   ``train_epoch``, ``evaluate`` (in ``eval_mode``), ``train``,
   ``plot_history``, ``predict``;
7. characters: ``char_vocab``, sequence pairs from a text (``char_dataset``),
   continuous text in windows (``text_windows``), truncated backpropagation
   through time (``train_text``), ``evaluate_text``,
   ``softmax_with_temperature`` and ``generate``; the n-gram baseline
   (``ngram_counts``, ``ngram_losses``);
8. time series: ``load_ett``, ``standardize``, ``forecast_windows`` (the
   standard ``ETT_BORDERS``), ``evaluate_forecast``;
9. sequence to sequence: ``load_cmudict``, ``split_by_word``, ``pad_pairs``,
   ``beam_search``, ``edit_distance``, ``strip_stress``, ``error_rates``;
10. parallel RNNs: the linear recurrence ``h_t = a_t * h_{t-1} + b_t`` solved
    step by step (``scan_sequential``), by a parallel scan (``scan_parallel``)
    and in log space (``scan_log``); the cells ``MinGRU`` and ``MinLSTM``, the
    language model ``MinRNNLM`` built from them and a small causal
    ``CharTransformer`` to compare with;
11. names of the seed courses' ``torchnlp.py`` (``encode``, ``device``,
    ``train_epoch_emb``...): each names what replaced it, also after
    ``from torchnlp import *``.

Bad arguments raise a ``TypeError`` or ``ValueError`` that names the argument
and what was expected, and data problems a ``DataError``, rather than giving a
silently wrong result or failing deep inside PyTorch.

**Batches: inputs first, target last.** Every data set item and every batch
the course trains on holds the model's inputs first and the target last, as
PyTorch's and d2l's examples do: ``(x, y)``, or ``(x, lengths, y)`` for padded
text. Encoded texts are ``(ids, label)`` items and ``pad_length`` collates them
into ``(x (B, T), lengths (B,), y (B,))``; ``char_dataset`` gives
``(input (T,), target (T,))``; the loops call ``model(x, *rest)`` and compare
its output with ``y``. (The raw data sets keep the order in which torchtext
ships them, ``(label, text)``; ``encode_dataset`` turns them into items.)

Why the loops are fast (the seed course ran at ~170 samples/s on a 2-core CPU):
texts are tokenized and encoded **once** (not in every batch); batches hold
texts of **similar length** (little padding) and the recurrent layer reads each
text only up to its real end, in both directions (``rnn_padded``, or packed
sequences); the embedding can have **sparse
gradients**, so that ``make_adam`` updates only the rows a batch used instead
of the whole vocabulary; batches are larger (128 rather than 16) with a
learning rate to match; the running loss is kept without its graph and
evaluation runs under ``torch.no_grad``. ``benchmarks/bench_loops.py`` measures it.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import csv
import functools
import gzip
import hashlib
import http.client
import io
import math
import numbers
import operator
import os
import queue
import random
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tqdm.auto import tqdm

# ----------------------------------------------------------------------------
# 1. Environment


def quick_mode() -> bool:
    """True when the environment variable ``TORCHNLP_QUICK`` is ``1`` (or ``true``, ``yes``, ``on``).

    In quick mode the loaders read small real samples shipped in the repository
    (``data/quick``) and never touch the network, so that every lesson runs in
    a few minutes on one laptop CPU core (README, Quick mode). CI runs the notebooks this way.
    Unset, empty, ``0``, ``false``, ``no`` or ``off`` mean full mode; any other
    value raises ``ValueError`` (``TORCHNLP_QUICK=false`` must not mean quick).
    """
    value = os.environ.get("TORCHNLP_QUICK", "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"TORCHNLP_QUICK must be 1 (quick mode) or 0 (full mode), not {value!r}")


def get_device() -> torch.device:
    """The best available device: CUDA, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_bf16() -> bool:
    """True when this CPU computes in bfloat16 natively (x86 ``avx512_bf16`` or ``amx_bf16``; Linux only).

    There, ``torch.autocast('cpu', dtype=torch.bfloat16)`` runs matrix products
    faster (lesson 05's LSTM trained 1.1-1.6 times as fast per window, measured on a
    shared machine); on other CPUs it emulates them and is slower. False
    also when ``ONEDNN_MAX_CPU_ISA`` holds oneDNN below its bfloat16 code paths
    (``make test`` pins ``AVX2``).
    """
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()  # pinned below bfloat16 (as make test does): no
    if isa != "ALL" and "BF16" not in isa and "AMX" not in isa:
        return False
    flags = _cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset:
    """The words of ``/proc/cpuinfo`` (empty where there is none); read once, the CPU does not change."""
    try:
        return frozenset(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return frozenset()


def seed_everything(seed: int = 0) -> None:
    """Seed Python's and PyTorch's random generators (CPU and GPU) with ``seed``.

    Two runs of a lesson on the same machine then give the same numbers.
    ``seed`` must be an int, at least 0.
    """
    _check_int("seed", seed, low=0)
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def clock(device) -> float:
    """Seconds to time work on ``device`` with: subtract two readings.

    On a CPU, this process's CPU time (``time.process_time``), which other programs
    sharing the machine disturb less than the wall clock. On a GPU (any other device),
    the wall-clock time (``time.perf_counter``) once the device has finished the work
    queued on it: CPU time would not count the GPU's work, and without the wait a
    reading would come before the work it should include.

    Example::

        >>> start = clock("cpu")
        >>> _ = sum(range(1000))
        >>> clock("cpu") - start >= 0
        True
    """
    device = _device(device)
    if device.type == "cpu":
        return time.process_time()
    torch.accelerator.synchronize(device)
    return time.perf_counter()


# -- checks of arguments: a wrong value raises where it is passed, with its name, instead of
# giving a silently wrong result or an error from deep inside PyTorch


def _describe(value) -> str:
    """A short description of ``value`` for error messages, e.g. ``(int, Tensor (3,))``."""

    def one(v):
        return f"Tensor {tuple(v.shape)}" if isinstance(v, torch.Tensor) else type(v).__name__

    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(one(v) for v in value) + ")"
    return one(value)


def _is_collection(value) -> bool:
    """True for what a ``for`` loop reads item by item, strings aside: a list, a generator, a ``Dataset`` or a
    ``Subset`` (which has ``__getitem__`` but no ``__iter__``)."""
    return not isinstance(value, (str, bytes)) and (isinstance(value, Iterable) or hasattr(value, "__getitem__"))


def _check_int(name: str, value, low: int = 1) -> None:
    """Raise ``TypeError`` unless ``value`` is an int, ``ValueError`` unless it is at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, not {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, not {value}")


def _check_positive(name: str, value) -> None:
    """Raise ``TypeError`` unless ``value`` is a real number, ``ValueError`` unless it is above 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {value!r} ({type(value).__name__})")
    if not value > 0:  # also refuses nan
        raise ValueError(f"{name} must be positive, not {value}")


def _check_bool(name: str, value) -> None:
    """Raise ``TypeError`` unless ``value`` is True or False (a string such as ``'no'`` would count as True)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")


def _check_dropout(name: str, value) -> None:
    """Raise ``TypeError`` unless ``value`` is a number, ``ValueError`` unless it lies in 0..1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in 0..1, not {value!r} ({type(value).__name__})")
    if not 0 <= value <= 1:  # also refuses nan
        raise ValueError(f"{name} must lie in 0..1 (the probability of zeroing a value), not {value}")


def _check_model(model) -> None:
    """Raise ``TypeError`` unless ``model`` is an ``nn.Module``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a model (an nn.Module), not {_describe(model)}")


def _device(device) -> torch.device:
    """``torch.device(device)``; a name torch does not know raises ``ValueError`` naming ``device``."""
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be a device such as 'cpu', 'cuda' or 'mps', not {device!r}") from e


def _model_device(model, device=None) -> torch.device:
    """``device`` if given, else the device of ``model``'s first parameter (the CPU if it has none)."""
    _check_model(model)
    if device is not None:
        return _device(device)
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _check_optimizer(optimizer) -> None:
    """Raise ``TypeError`` unless ``optimizer`` has a ``step`` method (a class is not an optimizer)."""
    if isinstance(optimizer, type) or not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must be an optimizer, e.g. torchnlp.make_adam(model, lr), not {optimizer!r}")


def _check_loss(loss: float, where: str) -> None:
    """Raise ``ValueError`` unless the mean loss ``loss`` is finite (rather than go on with NaN weights)."""
    if not math.isfinite(loss):
        raise ValueError(
            f"the loss is {loss} {where}: the model's outputs or the targets hold NaN or inf, or training "
            "diverged (lower the learning rate, or clip the gradients with clip=)"
        )


def _check_ids(name: str, ids, dim: int, vocab_size: int | None = None) -> None:
    """Raise unless ``ids`` is a ``dim``-D int64 (or int32) tensor, with values in ``0..vocab_size-1`` if given.

    A ``(B, T)`` batch needs ``T >= 1``: a recurrent layer has no step to read otherwise.
    """
    integer = isinstance(ids, torch.Tensor) and ids.dtype in (torch.int64, torch.int32)  # what nn.Embedding reads
    if not integer or ids.dim() != dim:
        got = f"{_describe(ids)} {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        shape = "a (B, T) tensor" if dim == 2 else f"a {dim}-D tensor"
        hint = " (for one sequence, pass x[None])" if dim == 2 and integer and ids.dim() == 1 else ""
        raise TypeError(f"{name} must be {shape} of integer ids (int64), got {got}{hint}")
    if dim == 2 and ids.size(1) == 0:
        raise ValueError(f"{name} {tuple(ids.shape)} has no step (T = 0): every sequence needs at least one token")
    if vocab_size is not None and ids.numel():
        low, high = (int(v) for v in ids.aminmax())
        if low < 0 or high >= vocab_size:
            raise ValueError(
                f"{name} holds ids {low}..{high}, outside 0..{vocab_size - 1}: the model was built for "
                f"{vocab_size} tokens (build it with vocab_size=len(vocab), the vocabulary that encoded x)"
            )


# ----------------------------------------------------------------------------
# 2. Data files

REPO_DIR = Path(__file__).resolve().parent
QUICK_DIR = REPO_DIR / "data" / "quick"

AG_NEWS_URL = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/"
IMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
BOOK_URL = "https://raw.githubusercontent.com/rasbt/machine-learning-book/main/ch15/1268-0.txt"
ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/1d16c8f4f943005d613b5bc962e9eeb06058cf07/ETT-small/"
CMUDICT_URL = (
    "https://raw.githubusercontent.com/cmusphinx/cmudict/0f8072f814306c5ee4fbf992ed853601b12c01f9/cmudict.dict"
)

IMDB_SIZE = 84_125_825  # bytes of the archive
IMDB_TEXT_MAX = 256 << 20  # bytes of reviews that convert_imdb_archive reads at most (the archive's: 66 MB)

# name in a data folder -> (what it is, where to download it, sha256 of its uncompressed content,
# bytes downloaded from that address). The IMDb files are made from the downloaded archive
# (see ``convert_imdb_archive``). The size bounds a download (``download``'s ``max_bytes``, ``deadline``).
DATA_FILES = {
    "ag_news/train.csv": (
        "AG News' train split",
        AG_NEWS_URL + "train.csv",
        "76a0a2d2f92b286371fe4d4044640910a04a803fdd2538e0f3f29a5c6f6b672e",
        29_470_338,
    ),
    "ag_news/test.csv": (
        "AG News' test split",
        AG_NEWS_URL + "test.csv",
        "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
        1_857_427,
    ),
    "imdb/train.csv": (
        "IMDb's train split",
        IMDB_URL,
        "0da4f5de397b3df584f7d200f6a96f6493d7720faae0dee600af373294da1c07",
        IMDB_SIZE,
    ),
    "imdb/test.csv": (
        "IMDb's test split",
        IMDB_URL,
        "2f35ccfa37a82ed41d9b5e50c2752fb0792115116d182d3d69a59c6278c170ef",
        IMDB_SIZE,
    ),
    "mysterious_island/1268-0.txt": (
        "The Mysterious Island",
        BOOK_URL,
        "355bfdc3f9b5e384b1918e817dd086ce0df97f4d294c69f032fb70b95c1e737c",
        1_171_600,
    ),
    "ett/ETTh1.csv": (
        "ETTh1 (Electricity Transformer Temperature, hourly)",
        ETT_URL + "ETTh1.csv",
        "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
        2_589_657,
    ),
    "cmudict/cmudict.dict": (
        "The CMU Pronouncing Dictionary",
        CMUDICT_URL,
        "81917843c7f44ce2b094ac63873c2c7a4cf802040792c455ba3ca406891c3d22",
        3_618_488,
    ),
}


class DataError(RuntimeError):
    """A data file is missing, cannot be downloaded, or fails its checksum."""


def cache_dir() -> Path:
    """The user's cache folder for data: ``$XDG_CACHE_HOME/torchnlp`` or ``~/.cache/torchnlp``.

    A relative ``XDG_CACHE_HOME`` is ignored, as the XDG specification says (it would put the cache
    wherever Python happens to run); ``~`` is expanded.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME", "")).expanduser()
    return (base if base.is_absolute() else Path.home() / ".cache") / "torchnlp"


def data_folders() -> list[Path]:
    """The folders searched for data files, in order.

    Quick mode: only the repository's samples. Otherwise ``$TORCHNLP_DATA`` (if
    set; ``~`` is expanded, a relative path is read from the current folder),
    then the cache. Each has the layout ``ag_news/train.csv``,
    ``imdb/test.csv``, ``mysterious_island/1268-0.txt`` (CSVs may be ``.csv.gz``).
    A ``TORCHNLP_DATA`` that is not a folder raises ``DataError`` (a typo must
    not lead to a silent download).
    """
    if quick_mode():
        return [QUICK_DIR]
    value = os.environ.get("TORCHNLP_DATA", "")
    if not value:
        return [cache_dir()]
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"TORCHNLP_DATA is set to {value!r} ({folder.absolute()}), which is not a folder. Point it at a "
            f"folder with the layout ag_news/test.csv, imdb/train.csv, mysterious_island/1268-0.txt, or unset "
            f"it to use the cache {cache_dir()}."
        )
    return [folder, cache_dir()]


def find_data_file(name: str) -> Path:
    """Path of data file ``name`` (e.g. ``'ag_news/test.csv'``), downloading it if needed.

    Looks for ``name`` and ``name + '.gz'`` in each of ``data_folders()``; if
    none has it, downloads it into the cache (not in quick mode).
    """
    _check_data_name(name)
    for folder in data_folders():
        for path in (folder / name, folder / (name + ".gz")):
            if path.is_file():
                return path
    if quick_mode():
        raise DataError(f"quick mode: the sample {QUICK_DIR / name} is missing from the repository")
    return download_data_file(name)


def _check_data_name(name) -> None:
    """Raise ``ValueError`` unless ``name`` is one of ``DATA_FILES``."""
    if not isinstance(name, str) or name not in DATA_FILES:
        raise ValueError(f"unknown data file {name!r}; known: {', '.join(DATA_FILES)}")


def read_data_file(name: str) -> bytes:
    """The content of data file ``name``, uncompressed and checked against its sha256.

    Quick-mode samples are not checked: they are part of the repository. A
    truncated or corrupt ``.gz`` file raises ``DataError``, as a wrong checksum
    does, and so does content over twice the expected size (a gzip bomb is
    never unpacked into memory).
    """
    path = find_data_file(name)
    _, url, expected, size = DATA_FILES[name]
    limit = 2 * size  # bytes: far above the real file (IMDb's size is its archive's, more than its CSV)
    remedy = f"Replace it with a good copy or delete it to download it again from {url}."
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            data = f.read(limit + 1)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; a truncated file gives EOFError
        raise DataError(f"{path} cannot be decompressed ({e}): it is truncated or corrupt. {remedy}") from e
    if len(data) > limit:
        raise DataError(f"{path} holds more than {limit} bytes, far more than {name} has. {remedy}")
    if not quick_mode() and hashlib.sha256(data).hexdigest() != expected:
        raise DataError(
            f"{path} does not match its checksum (sha256 {expected} expected): "
            f"it is incomplete or a different version. {remedy}"
        )
    return data


def download_data_file(name: str) -> Path:
    """Download ``name`` into the cache and return its path (IMDb: via the archive).

    The IMDb archive goes to a temporary folder of its own (two processes
    loading IMDb at once do not collide) that is removed afterwards, also after
    a failure or Ctrl-C. An unknown ``name`` raises ``ValueError``.
    """
    _check_data_name(name)
    what, url, sha256, size = DATA_FILES[name]
    target = cache_dir() / name
    limits = {"max_bytes": size + size // 10, "deadline": 60 + size / 20_000}  # at least 20 kB/s on average
    try:
        if url != IMDB_URL:
            download(url, target, sha256=sha256, **limits)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix="download.") as tmp:
            archive = Path(tmp) / "aclImdb_v1.tar.gz"
            download(url, archive, md5=IMDB_MD5, **limits)
            convert_imdb_archive(archive, target.parent)
        return target.with_name(target.name + ".gz")
    except (DataError, OSError) as e:
        searched = ", ".join(str(f) for f in data_folders())
        raise DataError(
            f"{what} ({name}) is not in {searched} and could not be downloaded from {url} ({e}). "
            f"Put a copy at {target} (or {target}.gz), or set TORCHNLP_DATA to a folder with the layout {name}."
        ) from e


MIN_RATE = 1024  # bytes a second: a download that is slower than this for `timeout` seconds is abandoned


def download(
    url: str,
    path: Path,
    sha256: str | None = None,
    md5: str | None = None,
    max_bytes: int | None = None,
    timeout: float = 30,
    deadline: float = 600,
) -> None:
    """Download ``url`` to ``path`` with a progress bar, verify it, write it atomically.

    The bytes go to a temporary file beside ``path``; only a complete transfer
    whose checksums match (``sha256`` and ``md5``, hex digits in either case) is
    renamed to ``path``. Anything else raises ``DataError`` and leaves no file
    behind: offline, an HTTP error, a short transfer, a wrong checksum, more
    than ``max_bytes`` bytes (checked against ``Content-Length`` before the
    transfer, and while reading), no byte for ``timeout`` seconds, no complete
    response headers within ``2 * timeout`` seconds, a body that arrives slower
    than ``MIN_RATE`` bytes a second over ``timeout`` seconds (a server that
    trickles a byte at a time never trips the socket's ``timeout``), or a
    transfer still running after ``deadline`` seconds. A response without ``Content-Length`` (read
    to its end) needs a checksum: otherwise a cut transfer would pass for a
    whole one. A folder that cannot be written raises ``DataError`` too. Bad
    arguments raise ``TypeError`` or ``ValueError`` (``timeout`` and ``deadline``
    are positive, finite numbers of seconds).
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {_describe(url)}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or Path), not {_describe(path)}")
    expected = {k: _check_digest(k, v) for k, v in (("sha256", sha256), ("md5", md5)) if v is not None}
    if max_bytes is not None:
        _check_int("max_bytes", max_bytes, low=0)
    for name, seconds in (("timeout", timeout), ("deadline", deadline)):
        _check_positive(name, seconds)
        if math.isinf(seconds):
            raise ValueError(f"{name} must be a finite number of seconds, not {seconds}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    except OSError as e:
        raise DataError(f"cannot write {path} ({type(e).__name__}: {e})") from e
    digests = {k: hashlib.new(k) for k in expected}
    start = time.monotonic()
    chunks, stop = queue.Queue(), threading.Event()
    threading.Thread(target=_fetch, args=(url, timeout, chunks, stop), daemon=True).start()

    def next_item(limit=math.inf):  # the headers, then each chunk of the body (b"" at its end)
        left, item = min(deadline - (time.monotonic() - start), limit), None
        if left > 0:  # checked also while chunks keep coming: the deadline bounds the whole transfer
            with contextlib.suppress(queue.Empty):
                item = chunks.get(timeout=left)
        if item is None and limit < deadline - (time.monotonic() - start):
            raise DataError(f"{url} sent no complete response headers within {limit:g} s")
        if item is None:
            raise DataError(f"download of {url} took more than {deadline:g} s ({received} bytes)")
        if isinstance(item, BaseException):
            raise item
        return item

    received = 0
    try:
        with os.fdopen(fd, "wb") as out:
            total = _content_length(headers := next_item(limit=2 * timeout))
            if max_bytes is not None and total is not None and total > max_bytes:
                raise DataError(f"{url} announces {total} bytes, more than the {max_bytes} expected at most")
            if total is None and not expected and "chunked" not in headers.get("Transfer-Encoding", "").lower():
                raise DataError(
                    f"{url} sent no Content-Length, so a cut transfer could not be told from a whole one: "
                    "pass sha256= (or md5=) to check what arrives"
                )
            with tqdm(total=total, unit="B", unit_scale=True, desc=path.name) as bar:
                window = (time.monotonic(), received)  # when the last `timeout` seconds began, and the bytes then
                while chunk := next_item():
                    out.write(chunk)
                    received += len(chunk)
                    if (now := time.monotonic()) - window[0] >= timeout:
                        rate = (received - window[1]) / (now - window[0])
                        if rate < MIN_RATE:
                            raise DataError(
                                f"download of {url} stalled: {rate:.0f} bytes/s over {now - window[0]:.1f} s, "
                                f"less than {MIN_RATE} ({received} bytes received)"
                            )
                        window = (now, received)
                    for digest in digests.values():
                        digest.update(chunk)
                    bar.update(len(chunk))
                    if max_bytes is not None and received > max_bytes:
                        raise DataError(f"{url} sent more than the {max_bytes} bytes expected at most")
        if total is not None and received != total:
            raise DataError(f"download of {url} was interrupted: {received} of {total} bytes")
        for kind, digest in digests.items():
            if digest.hexdigest() != expected[kind]:
                raise DataError(
                    f"{url} does not match its checksum ({kind} {expected[kind]} expected, got {digest.hexdigest()})"
                )
        os.replace(tmp, path)
    except (OSError, http.client.HTTPException) as e:  # urllib's URLError is an OSError; IncompleteRead...
        raise DataError(f"download of {url} failed: {type(e).__name__}: {e}") from e
    finally:
        stop.set()  # the reading thread ends at its next chunk
        if os.path.exists(tmp):
            os.remove(tmp)


def _fetch(url: str, timeout: float, chunks: queue.Queue, stop: threading.Event) -> None:
    """Open ``url``; put its headers, then each chunk of its body and ``b""`` at its end (or the error) in ``chunks``.

    ``download`` runs this in a thread of its own and waits for each item only until its deadline: a server
    that sends a byte every half second never trips the socket's ``timeout``, in its headers or its body.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            chunks.put(response.headers)
            while not stop.is_set():
                chunk = response.read1(1 << 20)  # what has arrived, up to 1 MiB
                chunks.put(chunk)
                if not chunk:
                    return
    except BaseException as e:  # noqa: BLE001  (handed to download, which raises it)
        chunks.put(e)


def _check_digest(name: str, value) -> str:
    """``value`` in lower case; raise unless it is a str of the hex digits of a ``name`` digest ('sha256', 'md5')."""
    size = hashlib.new(name).digest_size * 2
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str of {size} hex digits, not {_describe(value)}")
    if len(value) != size or any(c not in "0123456789abcdef" for c in value.lower()):
        raise ValueError(f"{name} must be {size} hex digits, not {value!r}")
    return value.lower()


def _content_length(headers) -> int | None:
    """The ``Content-Length`` of HTTP response headers, or ``None`` when absent or not a valid size."""
    try:
        length = int(headers.get("Content-Length", ""))
    except ValueError:
        return None
    return length if length >= 0 else None


def convert_imdb_archive(archive: Path, folder: Path) -> None:
    """Convert ``aclImdb_v1.tar.gz`` into ``folder/train.csv.gz`` and ``folder/test.csv.gz``.

    Each CSV has the header ``label,text`` and one row per review, ``neg``
    reviews first, each class sorted by the review id ``N`` of ``N_rating.txt``
    (the layout of the course's data folder). Both splits are read and checked
    before either file is replaced; files are written atomically and no
    temporary file is left behind, also after an error or Ctrl-C. ``folder`` is
    created if needed. An archive that cannot be read, or whose reviews hold
    more than ``IMDB_TEXT_MAX`` bytes in all (a hostile archive that would fill
    the memory), raises ``DataError``.
    """
    for name, value in (("archive", archive), ("folder", folder)):
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{name} must be a path (str or Path), not {_describe(value)}")
    reviews = {"train": [], "test": []}
    size = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")  # aclImdb/train/pos/123_8.txt
                if member.isfile() and len(parts) == 4 and parts[1] in reviews and parts[2] in ("neg", "pos"):
                    size += member.size
                    if size > IMDB_TEXT_MAX:
                        raise DataError(
                            f"{archive} holds over {IMDB_TEXT_MAX} bytes of reviews: not the aclImdb archive"
                        )
                    text = tar.extractfile(member).read().decode("utf-8")
                    review_id = int(parts[3].split("_")[0])
                    reviews[parts[1]].append((parts[2], review_id, text))
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as e:
        raise DataError(f"{archive} cannot be read as the aclImdb archive ({e}): it is truncated or corrupt") from e
    for split, rows in reviews.items():
        if not rows:
            raise DataError(f"{archive} holds no {split} reviews: it is not the aclImdb archive")
    Path(folder).mkdir(parents=True, exist_ok=True)
    written = {}  # split -> temporary file
    try:
        for split, rows in reviews.items():
            buffer = io.StringIO(newline="")
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["label", "text"])
            writer.writerows((label, text) for label, _, text in sorted(rows))
            fd, written[split] = tempfile.mkstemp(dir=folder, prefix=f"{split}.csv.gz.", suffix=".part")
            with os.fdopen(fd, "wb") as f:
                f.write(gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0))
        for split, tmp in written.items():
            os.replace(tmp, Path(folder) / f"{split}.csv.gz")
    finally:
        for tmp in written.values():
            if os.path.exists(tmp):
                os.remove(tmp)


# -- the three data sets

AG_NEWS_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
IMDB_CLASSES = ["neg", "pos"]
QUICK_AG_NEWS_TEST = 1600  # quick mode: AG News' test split is split into 6,000 train / 1,600 test


def _read_text(name: str) -> str:
    """The content of data file ``name`` (``read_data_file``) as UTF-8 text; other bytes raise ``DataError``."""
    try:
        return read_data_file(name).decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{name} is not UTF-8 text ({e})") from e


def read_csv(name: str) -> list[list[str]]:
    """Rows of the CSV data file ``name``."""
    text = _read_text(name)
    return list(csv.reader(io.StringIO(text, newline="")))


def load_ag_news(split: str) -> list[tuple[int, str]]:
    """AG News ``split`` ('train' or 'test') as ``(label 0..3, title + ' ' + description)`` pairs.

    Quick mode: both splits come from the 7,600-item test split, shuffled with
    a fixed seed; the last 1,600 items are 'test', the other 6,000 'train'.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if quick_mode():
        items = [(int(r[0]) - 1, " ".join(r[1:])) for r in read_csv("ag_news/test.csv")]
        random.Random(0).shuffle(items)
        return items[-QUICK_AG_NEWS_TEST:] if split == "test" else items[:-QUICK_AG_NEWS_TEST]
    return [(int(r[0]) - 1, " ".join(r[1:])) for r in read_csv(f"ag_news/{split}.csv")]


def load_imdb(split: str) -> list[tuple[int, str]]:
    """IMDb reviews of ``split`` ('train' or 'test') as ``(label 0 neg / 1 pos, text)`` pairs.

    The rows come ``neg`` first, then ``pos``: shuffle before training.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    header, *rows = read_csv(f"imdb/{split}.csv")
    return [(IMDB_CLASSES.index(label), text) for label, text in rows]


def load_book() -> str:
    """The text of *The Mysterious Island* (Project Gutenberg #1268).

    The part between 'THE MYSTERIOUS ISLAND' and 'End of the Project
    Gutenberg', with line ends read as ``\\n``: 1,112,350 characters, 80
    distinct (quick mode: the first 100,000 characters of it).
    """
    text = _read_text("mysterious_island/1268-0.txt")
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as open() reads it
    start, end = text.find("THE MYSTERIOUS ISLAND"), text.find("End of the Project Gutenberg")
    if start < 0 or end < start:
        raise DataError("the book's file lacks its 'THE MYSTERIOUS ISLAND' / 'End of the Project Gutenberg' markers")
    return text[start:end]


DATASETS = {"ag_news": (load_ag_news, AG_NEWS_CLASSES), "imdb": (load_imdb, IMDB_CLASSES)}


def load_dataset(name: str = "ag_news", min_freq: int = 1, max_tokens: int | None = None):
    """Load a text-classification data set and build its vocabulary on the train split.

    Args:
        name: ``'ag_news'`` (120,000 / 7,600 news items, 4 classes) or ``'imdb'``
            (25,000 / 25,000 movie reviews, 2 classes).
        min_freq, max_tokens: passed to ``Vocab.build``.

    Returns:
        ``(train, test, classes, vocab)``: lists of ``(label, text)`` pairs with
        labels ``0..len(classes)-1``, the class names, and a ``Vocab``.

    Example::

        train, test, classes, vocab = load_dataset('imdb')
        train[0]  # (0, 'Story of a man who has unnatural feelings for a pig. ...')
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    loader, classes = DATASETS[name]
    train, test = loader("train"), loader("test")
    vocab = Vocab.build((text for _, text in train), min_freq=min_freq, max_tokens=max_tokens)
    return train, test, list(classes), vocab


# ----------------------------------------------------------------------------
# 3. Tokenizer and vocabulary

# torchtext's ``basic_english`` rules, applied in this order after lowercasing.
BASIC_ENGLISH_RULES = [
    ("'", " '  "),
    ('"', ""),
    (".", " . "),
    ("<br />", " "),
    (",", " , "),
    ("(", " ( "),
    (")", " ) "),
    ("!", " ! "),
    ("?", " ? "),
    (";", " "),
    (":", " "),
]


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lowercase word and punctuation tokens (``basic_english``).

    >>> tokenize("It's great, isn't it?<br />Yes!")
    ['it', "'", 's', 'great', ',', 'isn', "'", 't', 'it', '?', 'yes', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: text must be a str, not {type(text).__name__}")
    text = text.lower()
    for old, new in BASIC_ENGLISH_RULES:
        text = text.replace(old, new)
    return text.split()  # splitting on whitespace runs, like re.sub(r'\s+', ' ') then split


class Vocab:
    """Maps tokens to indices and back.

    Word vocabularies reserve index 0 for ``<pad>`` and 1 for ``<unk>`` (any
    token not in the vocabulary); the other tokens follow by decreasing
    frequency, ties in alphabetical order. ``tokenizer`` splits a text,
    ``sep`` joins decoded tokens (``list`` and ``''`` give a character vocabulary).
    ``pad_index`` and ``unk_index`` are this vocabulary's own: ``0`` and ``1``
    for words, ``None`` for a character vocabulary, which has neither.

    >>> v = Vocab.build(['a b b', 'b c'])
    >>> v.itos
    ['<pad>', '<unk>', 'b', 'a', 'c']
    >>> v['b'], v['zebra'], len(v), v.pad_index, v.unk_index
    (2, 1, 5, 0, 1)
    >>> v.encode('b a zebra'), v.decode([2, 3, 1])
    ([2, 3, 1], 'b a <unk>')
    """

    def __init__(self, itos: list[str], tokenizer=tokenize, sep: str = " ", unk: str | None = "<unk>"):
        if not _is_collection(itos) or not all(isinstance(t, str) for t in itos):
            raise TypeError(f"itos must be a list of str tokens, not {_describe(itos)}")
        if not callable(tokenizer):
            raise TypeError(f"tokenizer must be a function from a text to its tokens, not {tokenizer!r}")
        if not isinstance(sep, str):
            raise TypeError(f"sep must be a str (what decode puts between tokens), not {sep!r}")
        self.itos = list(itos)
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("tokens of a vocabulary must be distinct")
        if self.stoi.get("<pad>", 0) != 0:
            raise ValueError("<pad> must be at index 0 (pad_length pads with 0, the models' padding_idx)")
        if unk is not None and unk not in self.stoi:
            raise ValueError(f"the unknown token {unk!r} is not in itos; pass unk=None for a vocabulary without one")
        self.tokenizer, self.sep = tokenizer, sep
        self.pad_index = 0 if self.itos[:1] == ["<pad>"] else None
        self.unk_index = self.stoi[unk] if unk is not None else None

    @classmethod
    def build(
        cls,
        texts,
        min_freq: int = 1,
        max_tokens: int | None = None,
        tokenizer=tokenize,
        specials=("<pad>", "<unk>"),
        sep: str = " ",
    ) -> Vocab:
        """Build a vocabulary from an iterable of texts.

        Args:
            texts: the texts (strings) to count tokens in: a list of them, not
                one string (for one text, pass ``[text]``).
            min_freq: keep tokens seen at least this often.
            max_tokens: keep at most this many entries, specials included.
            specials: entries placed first; ``('<pad>', '<unk>')`` for words,
                ``()`` for a character vocabulary (unknown characters then raise).
        """
        if not _is_collection(texts):
            raise TypeError(f"texts must be a list of strings (for one text, pass [text]), not {_describe(texts)}")
        _check_int("min_freq", min_freq)
        if max_tokens is not None:
            _check_int("max_tokens", max_tokens, low=len(specials) + 1)
        if (
            isinstance(specials, str)
            or not isinstance(specials, Iterable)
            or not all(isinstance(t, str) for t in specials)
        ):
            raise TypeError(f"specials must be a tuple of str tokens, e.g. ('<pad>', '<unk>'), not {specials!r}")
        if not callable(tokenizer):
            raise TypeError(f"tokenizer must be a function from a text to its tokens, not {tokenizer!r}")
        counts = collections.Counter()
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts must hold strings, but item {i} is {_describe(text)}")
            counts.update(tokenizer(text))
        ranked = sorted(
            (t for t, c in counts.items() if c >= min_freq and t not in specials), key=lambda t: (-counts[t], t)
        )
        if max_tokens is not None:
            ranked = ranked[: max_tokens - len(specials)]
        if not ranked:
            raise ValueError("no token to build a vocabulary from (empty texts, or min_freq too high)")
        return cls(list(specials) + ranked, tokenizer, sep, unk="<unk>" if "<unk>" in specials else None)

    def __len__(self) -> int:
        return len(self.itos)

    def __iter__(self):
        return iter(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        if not isinstance(token, str):
            raise TypeError(f"vocab[token] takes a str token, not {token!r}; the token at index i is vocab.itos[i]")
        if self.unk_index is None:
            if token not in self.stoi:
                raise KeyError(f"{token!r} is not in the vocabulary (which has no <unk>)")
            return self.stoi[token]
        return self.stoi.get(token, self.unk_index)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {self.itos[:6]}...)"

    def encode(self, text: str) -> list[int]:
        """Indices of the tokens of ``text`` (a str)."""
        if not isinstance(text, str):
            raise TypeError(f"encode: text must be a str, not {_describe(text)}")
        return [self[token] for token in self.tokenizer(text)]

    def decode(self, indices) -> str:
        """The tokens at ``indices`` (a list of ints or a 1-D integer tensor), joined by ``sep``."""
        if isinstance(indices, torch.Tensor):
            _check_ids("decode: indices", indices, dim=1)
            indices = indices.tolist()
        if not _is_collection(indices):
            raise TypeError(f"decode: indices must be a list of ints or a 1-D tensor, not {_describe(indices)}")
        tokens = []
        for i in indices:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < len(self.itos):
                raise ValueError(f"decode: indices must be ints in 0..{len(self.itos) - 1}, got {i!r}")
            tokens.append(self.itos[i])
        return self.sep.join(tokens)


# ----------------------------------------------------------------------------
# 4. Batching


def encode_dataset(data, vocab: Vocab, max_len: int | None = None) -> list[tuple[torch.Tensor, int]]:
    """Encode every text once: ``(label, text)`` pairs -> ``(ids, label)`` items (inputs first).

    ``data`` holds pairs as ``load_dataset`` returns them, with int labels.
    ``ids`` is a 1-D ``int64`` tensor of length ``min(len(tokens), max_len)``
    (at least 1: a text with no token becomes ``[vocab.unk_index]``, so that
    every sequence has a last step to read; with a vocabulary that has no
    ``<unk>``, such as a character vocabulary, an empty text raises ``ValueError``).

    >>> vocab = Vocab.build(['good film', 'bad film'])
    >>> encode_dataset([(1, 'good film'), (0, '')], vocab)
    [(tensor([4, 2]), 1), (tensor([1]), 0)]
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(
            f"encode_dataset: vocab must be a Vocab (from load_dataset or Vocab.build), not {_describe(vocab)}"
        )
    if max_len is not None:
        _check_int("max_len", max_len)
    if not _is_collection(data):
        raise TypeError(f"encode_dataset: data must be a list of (label, text) pairs, not {_describe(data)}")
    items = []
    for i, pair in enumerate(data):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[1], str)):
            raise TypeError(
                f"encode_dataset: item {i} of data must be a (label, text) pair as load_dataset returns, "
                f"got {_describe(pair)}"
            )
        label, text = _class_index(pair[0], f"item {i} of data"), pair[1]
        ids = vocab.encode(text)[:max_len]
        if not ids:
            if vocab.unk_index is None:
                raise ValueError(
                    f"encode_dataset: text {i} has no token, and the vocabulary has no <unk> to stand for it "
                    "(a character vocabulary): leave empty texts out"
                )
            ids = [vocab.unk_index]
        items.append((torch.tensor(ids, dtype=torch.long), label))
    return items


def _class_index(label, where: str) -> int:
    """``label`` as an int class index; a float or a string label (e.g. ``'pos'``) raises ``TypeError``."""
    try:
        return operator.index(label)  # an int, a NumPy int or a one-element integer tensor
    except TypeError:
        raise TypeError(f"the label of {where} must be an int class index (0-based), not {label!r}") from None


def _check_item(item, where: str) -> None:
    """Raise ``TypeError`` unless ``item`` is ``(ids: 1-D int64 tensor, label)``, with a hint at the likely mistake."""
    if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], torch.Tensor)):
        hint = ""
        if isinstance(item, torch.Tensor):
            hint = " (a batch is a list of items: for one item, pass [item])"
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            if isinstance(item[1], torch.Tensor):
                hint = " (that is the old (label, ids) order: items are now inputs first, target last)"
            elif isinstance(item[1], str) or isinstance(item[0], str):
                hint = " (texts must be encoded first: use encode_dataset(data, vocab))"
        raise TypeError(f"{where} must be (ids: 1-D Tensor, label), got {_describe(item)}{hint}")
    if item[0].dim() != 1 or item[0].dtype != torch.long:
        raise TypeError(f"{where}: ids must be a 1-D int64 tensor, got {item[0].dtype} {tuple(item[0].shape)}")


def pad_length(batch):
    """Collate ``(ids, label)`` items into ``(x, lengths, y)``: inputs first, target last.

    Returns:
        x: ``(B, T)`` int64, padded with 0 (a word vocabulary's ``<pad>``) to
        the longest sequence ``T``; lengths: ``(B,)`` int64 **on the CPU** (what
        ``pack_padded_sequence`` wants); y: ``(B,)`` int64 labels.

    >>> pad_length([(torch.tensor([5, 6, 7]), 1), (torch.tensor([8]), 0)])
    (tensor([[5, 6, 7],
            [8, 0, 0]]), tensor([3, 1]), tensor([1, 0]))
    """
    _check_batch(batch)
    for i, item in enumerate(batch):
        _check_item(item, f"item {i} of the batch")
    lengths = torch.tensor([len(ids) for ids, _ in batch])
    if (lengths == 0).any():
        raise ValueError(
            f"sequence {int((lengths == 0).nonzero()[0])} of the batch has length 0; "
            "every sequence needs at least one token"
        )
    x = nn.utils.rnn.pad_sequence([ids for ids, _ in batch], batch_first=True, padding_value=0)
    y = torch.tensor([_class_index(label, f"item {i} of the batch") for i, (_, label) in enumerate(batch)])
    return x, lengths, y


def _check_batch(batch) -> None:
    """Raise ``TypeError`` unless ``batch`` is a list (or tuple) of items, ``ValueError`` if it is empty."""
    if not isinstance(batch, (list, tuple)):
        raise TypeError(f"batch must be a list of items, not {_describe(batch)}")
    if len(batch) == 0:
        raise ValueError("cannot collate an empty batch")


def padify(batch):
    """Collate ``(ids, label)`` items into ``(x (B, T), y (B,))``, without lengths; see ``pad_length``."""
    x, _, y = pad_length(batch)
    return x, y


class BucketBatchSampler(torch.utils.data.Sampler):
    """Batches of indices whose sequences have similar lengths.

    With ``shuffle``: each epoch, shuffle all indices, cut them into pools of
    ``pool`` batches, sort each pool by length, cut it into batches and shuffle
    the order of all batches. Without: batches of the indices sorted by length.

    Args:
        lengths: the length of each item, e.g. ``[len(ids) for ids, _ in data]``.
        batch_size: items per batch (the last batch may be smaller).
        seed: seed of this sampler's own generator (epochs differ, runs repeat).
    """

    def __init__(self, lengths, batch_size: int, shuffle: bool = True, pool: int = 50, seed: int = 0):
        _check_int("batch_size", batch_size)
        _check_int("pool", pool)
        _check_bool("shuffle", shuffle)
        _check_int("seed", seed, low=0)
        if not isinstance(lengths, (Sequence, torch.Tensor)) or isinstance(lengths, str):
            raise TypeError(f"lengths must be a list of ints, one per item, not {_describe(lengths)}")
        if len(lengths) == 0:
            raise ValueError("lengths is empty: there is no item to batch")
        self.lengths = torch.as_tensor(lengths)
        if self.lengths.dim() != 1 or self.lengths.is_floating_point():
            raise TypeError(f"lengths must be a list of ints, one per item, not {_describe(lengths)}")
        self.batch_size, self.shuffle, self.pool = batch_size, shuffle, pool
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n, b = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            yield from (order[i : i + b].tolist() for i in range(0, n, b))
            return
        order = torch.randperm(n, generator=self.generator)
        batches = []
        for start in range(0, n, b * self.pool):
            pool = order[start : start + b * self.pool]
            pool = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches += [pool[i : i + b].tolist() for i in range(0, len(pool), b)]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]


def make_loader(
    data, batch_size: int = 128, shuffle: bool = True, bucket: bool = True, collate_fn=pad_length, seed: int = 0
) -> torch.utils.data.DataLoader:
    """A ``DataLoader`` over encoded ``(ids, label)`` items (``encode_dataset``).

    ``bucket=True`` groups texts of similar length (``BucketBatchSampler``);
    ``bucket=False`` draws batches at random (``shuffle``) or in order. Each
    batch is ``collate_fn(items)``: ``(x, lengths, y)`` by default,
    ``padify`` gives ``(x, y)``. Memory is pinned when CUDA is there.
    """
    if not isinstance(data, (list, tuple, torch.utils.data.Dataset)):
        raise TypeError(
            f"make_loader: data must be a list of (ids, label) items (encode_dataset), not {_describe(data)}"
        )
    if len(data) == 0:
        raise ValueError("make_loader: data is empty")
    for i, item in enumerate(data):
        _check_item(item, f"item {i} of data")
    _check_int("batch_size", batch_size)
    _check_bool("shuffle", shuffle)
    _check_bool("bucket", bucket)
    _check_int("seed", seed, low=0)
    if not callable(collate_fn):
        raise TypeError(f"collate_fn must be a function from a list of items to a batch, not {collate_fn!r}")
    pin = torch.cuda.is_available()
    if bucket:
        sampler = BucketBatchSampler([len(ids) for ids, _ in data], batch_size, shuffle=shuffle, seed=seed)
        return torch.utils.data.DataLoader(data, batch_sampler=sampler, collate_fn=collate_fn, pin_memory=pin)
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_fn, generator=generator, pin_memory=pin
    )


# ----------------------------------------------------------------------------
# 5. Models


def check_lengths(lengths: torch.Tensor, x: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``lengths`` fits the padded batch ``x`` ``(B, T, ...)``.

    ``lengths`` must be a 1-D integer tensor (not ``bool`` or ``uint8``, which
    PyTorch would read as a mask) of ``B`` values in ``1..T``; ``x`` a tensor
    of at least one sequence (``B >= 1``).
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise TypeError(f"x must be a padded batch, a (B, T, ...) tensor, not {_describe(x)}")
    if x.size(0) == 0:
        raise ValueError(f"x {tuple(x.shape)} holds no sequence (B = 0)")
    if not isinstance(lengths, torch.Tensor):
        raise TypeError(f"lengths must be a 1-D int64 tensor, got {type(lengths).__name__}")
    if lengths.dtype not in (torch.int64, torch.int32, torch.int16) or lengths.dim() != 1:
        raise ValueError(f"lengths must be a 1-D int64 tensor, got {lengths.dtype} of shape {tuple(lengths.shape)}")
    if len(lengths) != x.size(0):
        raise ValueError(f"lengths has {len(lengths)} values for a batch of {x.size(0)} sequences")
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > x.size(1):
        raise ValueError(f"lengths must lie in 1..{x.size(1)} (the padded length), got {low}..{high}")


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of a right-padded batch within its own length; the padding stays at the end.

    ``x``: ``(B, T, *)``; ``lengths``: ``(B,)``. Returns ``(B, T, *)`` with
    ``out[b, :L_b] = x[b, :L_b].flip(0)`` and ``out[b, L_b:] = x[b, L_b:]``.
    Applying it twice gives ``x`` back.

    >>> reverse_padded(torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2]))
    tensor([[3, 2, 1],
            [5, 4, 0]])
    """
    check_lengths(lengths, x)  # a length of 0 would leave its sequence as it is
    steps = torch.arange(x.size(1), device=x.device)
    last = lengths.to(x.device)[:, None] - 1  # (B, 1)
    index = torch.where(steps <= last, last - steps, steps)  # (B, T)
    index = index.view(*index.shape, *[1] * (x.dim() - 2)).expand_as(x)
    return x.gather(1, index)


def _run_direction(rnn: nn.RNNBase, layer: int, reverse: bool, x: torch.Tensor) -> torch.Tensor:
    """Output ``(B, T, H)`` of one layer and direction of ``rnn`` over ``x`` ``(B, T, I)``, from a zero state.

    Calls a one-layer, one-direction module of the same kind with that
    direction's own weights (``weight_ih_l1_reverse``...), so gradients reach ``rnn``.
    """
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    names = [n for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if hasattr(rnn, n + suffix)]
    kwargs = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    one = type(rnn)(x.size(-1), rnn.hidden_size, bias=rnn.bias, batch_first=True, device="meta", **kwargs)
    weights = {f"{n}_l0": getattr(rnn, n + suffix) for n in names}
    return torch.func.functional_call(one, weights, (x,))[0]


def rnn_padded(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor):
    """Run ``rnn`` over a right-padded batch as if each sequence were alone, without packing.

    The forward direction reads the padded batch as it is: its state at each
    sequence's last real step is exact (the padding after it is never read
    back). The backward direction reads each sequence **reversed within its own
    length** (``reverse_padded``), so it starts at the last real step instead
    of the padding; its outputs are reversed back. Each layer feeds the next,
    with ``rnn.dropout`` between layers in training mode, as ``nn.LSTM`` does.
    The results equal a packed run to float precision, and on the CPU this is
    much faster than packing for long texts (packed backward passes grow
    about quadratically with the length, pytorch/pytorch#149194).

    Args:
        rnn: an ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU`` with ``batch_first=True``.
        x: ``(B, T, I)`` inputs, padded after each sequence's end.
        lengths: ``(B,)`` int64, each in ``1..T``.

    Returns:
        ``output`` ``(B, T, D * H)``: the last layer at every real step, both
        directions concatenated, zeros at padded steps (as ``pad_packed_sequence``
        gives); ``h_n`` ``(num_layers * D, B, H)``: every layer's and
        direction's state after reading its whole sequence, laid out as
        ``nn.LSTM``'s ``h_n``. (An LSTM's cell states ``c_n`` are not returned.)

    >>> rnn = nn.GRU(3, 4, bidirectional=True, batch_first=True)
    >>> output, h_n = rnn_padded(rnn, torch.randn(2, 5, 3), torch.tensor([5, 2]))
    >>> output.shape, h_n.shape, bool(output[1, 2:].eq(0).all())
    (torch.Size([2, 5, 8]), torch.Size([2, 2, 4]), True)
    """
    if not isinstance(rnn, nn.RNNBase):
        raise TypeError(f"rnn must be an nn.RNN, nn.LSTM or nn.GRU, not {type(rnn).__name__}")
    if not rnn.batch_first or getattr(rnn, "proj_size", 0):
        raise ValueError("rnn_padded needs an RNN with batch_first=True and no proj_size")
    if not (isinstance(x, torch.Tensor) and x.dim() == 3 and x.size(-1) == rnn.input_size):
        raise ValueError(f"x must be (B, T, {rnn.input_size}) inputs (the rnn's input_size), not {_describe(x)}")
    check_lengths(lengths, x)
    lengths = lengths.to(x.device)
    batch = torch.arange(x.size(0), device=x.device)
    mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]  # (B, T): real steps
    h_n, inputs = [], x
    for layer in range(rnn.num_layers):
        outputs = []
        for reverse in (False, True) if rnn.bidirectional else (False,):
            out = _run_direction(rnn, layer, reverse, reverse_padded(inputs, lengths) if reverse else inputs)
            h_n.append(out[batch, lengths - 1])  # (B, H): the state after the sequence's last real step
            outputs.append(reverse_padded(out, lengths) if reverse else out)
        inputs = torch.cat(outputs, dim=-1)  # (B, T, D * H)
        if layer < rnn.num_layers - 1:
            inputs = F.dropout(inputs, rnn.dropout, rnn.training)
    return inputs * mask[:, :, None], torch.stack(h_n)


class RNNClassifier(nn.Module):
    """Embedding -> recurrent layer(s) -> final state (or max over time) -> linear layer.

    Args:
        vocab_size, num_classes: sizes of the input vocabulary and of the output.
        embed_dim, hidden_dim: sizes of a token's embedding and of the state.
        cell: ``'rnn'``, ``'lstm'`` or ``'gru'``.
        num_layers, bidirectional, dropout: as in ``nn.LSTM``; ``dropout`` is
            also applied to the features before the linear layer.
        sparse: give the embedding sparse gradients (only the rows a batch
            used); ``make_adam`` then updates only those rows.
        pool: ``'last'``: the features are the last layer's final state(s),
            forward and backward concatenated; ``'max'``: the largest value of
            each unit of the last layer's outputs over the text's steps.
        pack: how the recurrent layer reads each text only up to its end when
            ``lengths`` are given. ``True``: packed sequences
            (``pack_padded_sequence``). ``False``: ``rnn_padded``, the padded
            batch read exactly in both directions (the same results; on the CPU
            much faster for long texts). ``None`` (default): packed on CUDA,
            where cuDNN runs packed batches natively, ``rnn_padded`` elsewhere.

    Shapes:
        ``x``: ``(B, T)`` token ids in ``0..vocab_size-1``, padded with 0;
        ``lengths``: ``(B,)`` int64 (on the CPU for packing), or ``None``.
        Features ``(B, D * hidden_dim)`` with ``D`` = 2 if bidirectional else 1.
        Returns logits ``(B, num_classes)``. A wrong ``x`` or ``lengths``
        raises an error that names it (ids out of range would otherwise fail
        inside ``nn.Embedding``, a CUDA device-side assert on a GPU).

    With ``lengths`` each text is read as if it were alone in the batch, in both
    directions. Without ``lengths`` the whole padded batch is read: the forward
    direction's final state comes after the padding, and the backward direction
    reads the padding first.
    """

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embed_dim: int = 64,
        hidden_dim: int = 128,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        sparse: bool = False,
        pool: str = "last",
        pack: bool | None = None,
    ):
        super().__init__()
        _check_int("vocab_size", vocab_size)
        _check_int("num_classes", num_classes, low=2)
        _check_int("embed_dim", embed_dim)
        _check_int("hidden_dim", hidden_dim)
        _check_int("num_layers", num_layers)
        _check_bool("bidirectional", bidirectional)
        _check_dropout("dropout", dropout)
        _check_bool("sparse", sparse)
        if cell not in self.CELLS:
            raise ValueError(f"cell must be one of {', '.join(self.CELLS)}, not {cell!r}")
        if pool not in ("last", "max"):
            raise ValueError(f"pool must be 'last' or 'max', not {pool!r}")
        if pack not in (True, False, None):
            raise ValueError(f"pack must be True, False or None (choose by device), not {pack!r}")
        self.pool, self.pack = pool, pack
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0, sparse=sparse)  # 0 is <pad>
        self.rnn = self.CELLS[cell](
            embed_dim,
            hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_dim * (2 if bidirectional else 1), num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        _check_ids("x", x, dim=2, vocab_size=self.embedding.num_embeddings)
        emb = self.embedding(x)  # (B, T, E)
        if lengths is None:
            output, h_n = self.rnn(emb)  # output: (B, T, D * H), the last layer at every step
            h_n = h_n[0] if isinstance(h_n, tuple) else h_n  # (layers * D, B, H); an LSTM gives (h_n, c_n)
        else:
            check_lengths(lengths, x)
            pack = x.is_cuda if self.pack is None else self.pack
            if pack:
                packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
                output, h_n = self.rnn(packed)
                output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.size(1))
                h_n = h_n[0] if isinstance(h_n, tuple) else h_n
            else:
                output, h_n = rnn_padded(self.rnn, emb, lengths)
        if self.pool == "max":
            if lengths is not None:
                steps = torch.arange(x.size(1), device=x.device)
                padding = steps[None, :] >= lengths.to(x.device)[:, None]  # (B, T)
                output = output.masked_fill(padding[:, :, None], float("-inf"))
            features = output.amax(dim=1)  # (B, D * H)
        else:
            last = h_n[-2:] if self.rnn.bidirectional else h_n[-1:]  # the last layer's direction(s)
            features = torch.cat(list(last), dim=1)  # (B, D * H)
        return self.fc(self.dropout(features))  # (B, num_classes)


class CharLSTM(nn.Module):
    """Character-level language model: embedding -> LSTM -> logits of the next character.

    Shapes:
        ``x``: ``(B, T)`` character ids in ``0..vocab_size-1``; ``state``: ``(h, c)``, each
        ``(num_layers, B, hidden_dim)``, or ``None`` for zeros. Returns
        ``(logits (B, T, vocab_size), state)``, like ``nn.LSTM`` returns its state.
        A ``state`` of another shape (e.g. from a batch of another size) raises ``ValueError``.

    ``bf16=True`` runs the layers under ``torch.autocast`` in bfloat16 (faster
    on CPUs with bfloat16 units, see ``cpu_has_bf16``); the
    logits come back in float32. On a CPU without them (``cpu_has_bf16()`` is
    False) oneDNN has no bfloat16 LSTM, so ``forward`` raises a RuntimeError.
    Sizes must be ints of at least 1, ``dropout`` in 0..1 and ``bf16`` a bool
    (``TypeError``/``ValueError`` otherwise).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_dim: int = 512,
        num_layers: int = 1,
        dropout: float = 0.0,
        bf16: bool = False,
    ):
        super().__init__()
        _check_int("vocab_size", vocab_size)
        _check_int("embed_dim", embed_dim)
        _check_int("hidden_dim", hidden_dim)
        _check_int("num_layers", num_layers)
        _check_dropout("dropout", dropout)
        _check_bool("bf16", bf16)
        self.bf16 = bf16
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.LSTM(
            embed_dim, hidden_dim, num_layers=num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_dim, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        _check_ids("x", x, dim=2, vocab_size=self.embedding.num_embeddings)
        shape = (self.rnn.num_layers, x.size(0), self.rnn.hidden_size)
        if state is not None and not (
            isinstance(state, tuple)
            and len(state) == 2
            and all(isinstance(s, torch.Tensor) for s in state)
            and state[0].shape == state[1].shape == shape
        ):
            raise ValueError(f"state must be None or (h, c), each {shape} for this batch, not {_describe(state)}")
        if self.bf16 and x.device.type == "cpu" and not cpu_has_bf16():
            raise RuntimeError(
                "CharLSTM: bf16=True needs a CPU with bfloat16 units (cpu_has_bf16() is False here) "
                "or a GPU; set model.bf16 = torchnlp.cpu_has_bf16()"
            )
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out, state = self.rnn(self.embedding(x), state)  # out: (B, T, H)
            logits = self.fc(self.dropout(out))
        return logits.float(), state


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    _check_model(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------
# 6. Training and evaluation


class MultiOptimizer:
    """Several optimizers stepped as one (``zero_grad`` and ``step`` call each)."""

    def __init__(self, *optimizers):
        for optimizer in optimizers:
            _check_optimizer(optimizer)
        self.optimizers = optimizers

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()


def make_adam(model: nn.Module, lr: float = 1e-3):
    """Adam for ``model``; the weights of sparse embeddings (``nn.Embedding``, ``nn.EmbeddingBag``) get ``SparseAdam``.

    A dense Adam step reads and writes every row of the embedding matrix
    (e.g. 95,812 x 64 for AG News) even though a batch uses a few thousand
    rows. With ``nn.Embedding(..., sparse=True)`` the gradient holds only the
    used rows, and ``SparseAdam`` updates only those (its moments are "lazy":
    a row's moments change only when the row is used).

    Where sparse gradients are not supported (``supports_sparse_gradients``:
    Apple's MPS backend), a sparse embedding is switched to dense gradients
    with a warning, and plain Adam updates it: call ``make_adam`` after moving
    the model to its device.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"make_adam takes the model (an nn.Module), not {_describe(model)}: it finds its embeddings")
    _check_positive("lr", lr)
    if next(model.parameters(), None) is None:
        raise ValueError(f"make_adam: the model {type(model).__name__} has no parameters to train")
    for m in model.modules():
        embedding = isinstance(m, (nn.Embedding, nn.EmbeddingBag))
        if embedding and m.sparse and not supports_sparse_gradients(m.weight.device):
            warnings.warn(
                f"sparse gradients are not supported on {m.weight.device.type}: "
                "the embedding gets dense gradients and plain Adam instead",
                stacklevel=2,
            )
            m.sparse = False
    sparse = [m.weight for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse]
    dense = [p for p in model.parameters() if not any(p is s for s in sparse)]
    if not sparse:
        return torch.optim.Adam(dense, lr=lr)
    return MultiOptimizer(torch.optim.SparseAdam(sparse, lr=lr), torch.optim.Adam(dense, lr=lr))


def supports_sparse_gradients(device) -> bool:
    """Whether sparse embedding gradients work on ``device``: not on Apple's MPS backend (no sparse tensors)."""
    return _device(device).type != "mps"


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy with the classes on the last axis.

    ``logits`` ``(..., C)`` and ``labels`` ``(...)``: works for a classifier
    (``(B, C)``, ``(B,)``) and a language model (``(B, T, V)``, ``(B, T)``).
    ``labels`` must be integer classes of ``logits``' shape without its last axis.
    """
    if not (isinstance(logits, torch.Tensor) and isinstance(labels, torch.Tensor)):
        raise TypeError(f"logits and labels must be tensors, not {_describe((logits, labels))}")
    if logits.dim() == 0 or labels.shape != logits.shape[:-1] or labels.is_floating_point():
        raise ValueError(
            f"labels ({labels.dtype} {tuple(labels.shape)}) must be integer classes, one per row of logits "
            f"{tuple(logits.shape)}: logits' shape without its last axis (the classes)"
        )
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1).long())  # int32 would fail


def run_epoch(
    model,
    loader,
    optimizer=None,
    loss_fn=cross_entropy,
    device=None,
    clip: float | None = None,
    epoch_size: int | None = None,
    desc: str = "",
    progress: bool = True,
    check_finite: bool = True,
) -> dict:
    """One pass over ``loader``: trains if ``optimizer`` is given, else only evaluates.

    Each batch is ``(x, *rest, y)``, inputs first and target last: the model
    is called as ``model(x, *rest)`` (``rest`` is e.g. the CPU ``lengths``;
    tensors in it other than lengths go to ``device`` with ``x``) and its
    output is compared with ``y`` by ``loss_fn``. The output is logits
    ``(..., C)`` for integer targets ``y`` ``(...)`` (classes ``0..C-1``; a
    target of ``-100`` is ignored, as ``F.cross_entropy`` does), or predictions
    of the same shape as a floating-point ``y`` (regression, e.g. with
    ``F.mse_loss``). A model may return a tuple whose first item is the output
    (like ``CharLSTM``). ``clip`` bounds the norm of the (dense) gradients
    before each step. ``epoch_size`` stops after exactly that many items: the
    batch that would go past it is cut short.

    Returns ``{'loss', 'acc', 'samples', 'seconds', 'grad_norms'}``: the mean
    loss over all targets seen, the accuracy (``None`` for regression), the
    number of items (rows of ``x``), the time taken, and when training, the
    norm of each batch's (dense) gradient before clipping. A loss that is NaN
    or infinite raises ``ValueError`` (checked every 25 batches and at the end);
    ``check_finite=False`` lets a diverging run go on, its NaN losses and norms
    recorded (lesson 04 shows one).
    """
    if not isinstance(loader, Iterable):
        raise TypeError(f"loader must be a DataLoader (or another iterable of batches), not {loader!r}")
    if optimizer is not None:
        _check_optimizer(optimizer)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function loss_fn(output, y), not {loss_fn!r}")
    if clip is not None:
        _check_positive("clip", clip)
    if epoch_size is not None:
        _check_int("epoch_size", epoch_size)
    _check_bool("check_finite", check_finite)
    device = _model_device(model, device)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    items = targets = 0
    grad_norms = []
    start = time.perf_counter()
    bar = tqdm(loader, desc=desc, disable=not progress, leave=False, mininterval=0.5)
    for step, batch in enumerate(bar):
        x, rest, cpu_y = _split_batch(batch)
        if epoch_size is not None and items + len(x) > epoch_size:  # keep only the rows epoch_size still needs
            keep, rows = epoch_size - items, len(x)
            x, cpu_y = x[:keep], cpu_y[:keep]
            rest = [r[:keep] if isinstance(r, torch.Tensor) and r.dim() and len(r) == rows else r for r in rest]
        x, y = x.to(device, non_blocking=True), cpu_y.to(device, non_blocking=True)
        out = model(x, *[r.to(device) if _is_data(r) else r for r in rest])
        out = out[0] if isinstance(out, tuple) else out
        classes = not cpu_y.is_floating_point()
        if (out.shape[:-1] if classes else out.shape) != y.shape:
            raise ValueError(
                f"the model's output {tuple(out.shape)} does not fit the target y {tuple(y.shape)}: batches are "
                "(x, ..., y), inputs first and target last, and y holds a class per output row (or, for "
                "regression, a float per output value)"
            )
        if classes:  # checked on the CPU: no GPU sync
            _check_targets(cpu_y, out.size(-1))
        loss = loss_fn(out, y)
        n = int((cpu_y != -100).sum()) if classes else cpu_y.numel()  # the targets this batch's mean is over
        items += len(x)
        targets += n
        total_loss += loss.detach() * n  # loss is a batch mean; keep no graph
        if step % 25 == 0:  # one GPU sync every 25 batches: a NaN loss stops the epoch before it trains on
            running = total_loss.item() / max(targets, 1)
            if check_finite:
                _check_loss(running, f"by batch {step + 1}")
            if progress:
                bar.set_postfix(loss=f"{running:.3f}")
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # The norm of the dense gradients, before clipping (clip_grad_norm_ can't read sparse ones).
            dense = [p for p in model.parameters() if p.grad is not None and not p.grad.is_sparse]
            if clip is not None:
                grad_norms.append(nn.utils.clip_grad_norm_(dense, clip))
            else:
                grad_norms.append(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in dense])))
            optimizer.step()
        if classes:
            correct += ((out.argmax(-1) == y) & (y != -100)).sum()
        if epoch_size is not None and items >= epoch_size:
            break
    if items == 0:
        raise ValueError("the loader yielded no batch")
    mean_loss = total_loss.item() / max(targets, 1)
    if check_finite:
        _check_loss(mean_loss, f"after {step + 1} batches")
    return {
        "loss": mean_loss,
        "acc": correct.item() / max(targets, 1) if classes else None,
        "samples": items,
        "seconds": time.perf_counter() - start,
        "grad_norms": torch.stack(grad_norms).tolist() if grad_norms else [],
    }


def _split_batch(batch):
    """``(x, rest, y)`` of a batch ``(x, *rest, y)``; raise if it is not tensors in that order."""
    pair = isinstance(batch, (tuple, list)) and len(batch) >= 2
    if not (pair and isinstance(batch[0], torch.Tensor) and isinstance(batch[-1], torch.Tensor)):
        raise TypeError(
            f"each batch must be tensors (x, ..., y), inputs first and target last; got {_describe(batch)}. "
            "Iterate over batches (e.g. torchnlp.make_loader(encode_dataset(data, vocab))), not over the data set"
        )
    x, *rest, y = batch
    if x.dim() == 1 and any(isinstance(t, torch.Tensor) and t.dim() > 1 for t in (*rest, y)):
        raise ValueError(
            f"the batch {_describe(batch)} starts with a 1-D tensor, followed by a larger one: batches are "
            "(x, ..., y), inputs first and target last (the seed course's loaders gave (y, x, ...))"
        )
    return x, rest, y


def _check_targets(y: torch.Tensor, num_classes: int) -> None:
    """Raise unless the class targets ``y`` lie in ``0..num_classes-1`` (or are ``-100``, ignored)."""
    real = y[y != -100]
    if len(real) and (real.min() < 0 or real.max() >= num_classes):
        low, high = int(real.min()), int(real.max())
        hint = ""
        if low == -1:
            hint = ": labels are already 0-based here (AG News 0..3, IMDb 0..1), do not subtract 1"
        elif low >= 1 and high == num_classes:
            hint = ": these look like 1-based labels, and they must be 0-based"
        raise ValueError(
            f"targets must lie in 0..{num_classes - 1} (the model's outputs) or be -100 (ignored), "
            f"got {low}..{high}{hint}"
        )


def _is_data(value) -> bool:
    """True for a tensor that goes to the model's device with ``x`` (not a CPU ``lengths`` vector)."""
    return isinstance(value, torch.Tensor) and (value.is_floating_point() or value.dim() > 1)


def train_epoch(
    model,
    loader,
    optimizer=None,
    *,
    loss_fn=cross_entropy,
    device=None,
    clip: float | None = None,
    epoch_size: int | None = None,
    desc: str = "train",
    progress: bool = True,
    check_finite: bool = True,
    lr=None,
) -> dict:
    """Train ``model`` for one epoch (or exactly ``epoch_size`` items) with ``optimizer``; see ``run_epoch``.

    Build the optimizer once, e.g. ``make_adam(model, lr)``, and pass the same
    one every epoch: its state (Adam's moments) carries over. ``lr`` is not
    taken here (the seed course's ``train_epoch(net, loader, lr=...)`` made a
    new optimizer at every call): passing it raises a ``TypeError`` that says so.
    """
    if optimizer is None or lr is not None:
        raise TypeError(
            "train_epoch(model, loader, optimizer) takes an optimizer and no lr: build it once with "
            "optimizer = torchnlp.make_adam(model, lr) and pass it every epoch, or call "
            "torchnlp.train(model, loader, epochs=..., lr=...), which builds one"
        )
    _check_model(model)
    model.train()
    return run_epoch(model, loader, optimizer, loss_fn, device, clip, epoch_size, desc, progress, check_finite)


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Put ``model`` in eval mode (no dropout) for a ``with`` block, then restore its mode, also on errors."""
    _check_model(model)
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate(model, loader, *, loss_fn=cross_entropy, device=None, desc: str = "eval", progress: bool = True) -> dict:
    """Mean loss and accuracy of ``model`` on ``loader``, in eval mode, without gradients; see ``run_epoch``.

    The model's train/eval mode is restored afterwards.
    """
    with eval_mode(model):
        return run_epoch(model, loader, None, loss_fn, device, desc=desc, progress=progress)


def train(
    model,
    train_loader,
    val_loader=None,
    epochs: int = 1,
    optimizer=None,
    lr: float | None = None,
    scheduler=None,
    restore_best: bool = False,
    verbose: bool = True,
    **kwargs,
) -> dict:
    """Train for ``epochs`` epochs, evaluating on ``val_loader`` after each.

    Args:
        optimizer: defaults to ``make_adam(model, lr)`` (``lr`` defaults to
            1e-3); pass either an optimizer or ``lr``, not both.
        scheduler: a learning-rate scheduler, stepped once after each epoch.
        restore_best: at the end, load the weights of the epoch with the lowest
            validation loss (needs ``val_loader``), so that the model you test
            is the one the validation set chose.
        kwargs: go to ``train_epoch`` (``clip``, ``epoch_size``, ``device``,
            ``loss_fn``, ``progress``, ``check_finite``).

    Returns the history: a dict of lists ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc``, ``seconds`` (training time of each epoch), one
    entry per epoch; ``grad_norms``, one per batch of every epoch (before
    clipping); and ``best_epoch`` (1-based; with a ``val_loader``).
    """
    _check_int("epochs", epochs)
    _check_bool("restore_best", restore_best)
    if optimizer is not None and lr is not None:
        raise ValueError("train: pass an optimizer or lr, not both (an optimizer has its own learning rate)")
    if val_loader is not None and not isinstance(val_loader, Iterable):
        raise TypeError(
            f"train: val_loader must be a DataLoader or None, not {val_loader!r} (the learning rate is lr=)"
        )
    if restore_best and val_loader is None:
        raise ValueError("train: restore_best needs a val_loader to choose the best epoch")
    if scheduler is not None and not hasattr(scheduler, "step"):
        raise TypeError(f"train: scheduler must be a learning-rate scheduler (or None), not {scheduler!r}")
    optimizer = optimizer or make_adam(model, 1e-3 if lr is None else lr)
    history, best = collections.defaultdict(list), None
    eval_kwargs = {k: v for k, v in kwargs.items() if k in ("loss_fn", "device", "progress")}
    for epoch in range(1, epochs + 1):
        stats = train_epoch(model, train_loader, optimizer, desc=f"epoch {epoch}", **kwargs)
        history["train_loss"].append(stats["loss"])
        history["train_acc"].append(stats["acc"])
        history["seconds"].append(stats["seconds"])
        history["grad_norms"] += stats["grad_norms"]
        line = f"epoch {epoch}: train loss {stats['loss']:.4f}" + _acc_text(stats["acc"])
        if val_loader is not None:
            val = evaluate(model, val_loader, **eval_kwargs)
            history["val_loss"].append(val["loss"])
            history["val_acc"].append(val["acc"])
            line += f" | val loss {val['loss']:.4f}" + _acc_text(val["acc"])
            if best is None or val["loss"] < best[0]:
                best = (val["loss"], epoch, copy.deepcopy(model.state_dict()) if restore_best else None)
        if scheduler is not None:
            scheduler.step()
        if verbose:
            print(f"{line} | {stats['seconds']:.1f} s")
    if best is not None:
        history["best_epoch"] = best[1]
        if restore_best:
            model.load_state_dict(best[2])
            if verbose:
                print(f"restored the weights of epoch {best[1]} (lowest validation loss, {best[0]:.4f})")
    return dict(history)


def _acc_text(acc) -> str:
    return "" if acc is None else f" acc {acc:.4f}"


def plot_history(history: dict, title: str | None = None):
    """Plot loss (and accuracy, if any) per epoch, train and validation; return the figure.

    ``history`` is what ``train`` returns. A ``best_epoch`` entry is marked with a dotted line.
    """
    import matplotlib.pyplot as plt

    if not isinstance(history, dict) or not history.get("train_loss"):
        keys = list(history) if isinstance(history, dict) else type(history).__name__
        raise ValueError(f"history must be what train() returns, a dict with a 'train_loss' list; got {keys}")
    metrics = ["loss"] + (["acc"] if history.get("train_acc") and history["train_acc"][0] is not None else [])
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    epochs = range(1, len(history["train_loss"]) + 1)
    for ax, metric in zip(axes[0], metrics):
        ax.plot(epochs, history[f"train_{metric}"], "o-", label="train")
        if history.get(f"val_{metric}"):
            ax.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        if history.get("best_epoch"):
            ax.axvline(history["best_epoch"], color="gray", ls=":", label="lowest validation loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel({"loss": "loss", "acc": "accuracy"}[metric])
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@torch.no_grad()
def predict(model, texts: list[str], vocab: Vocab, device=None) -> list[int]:
    """Predicted class of each text of ``texts`` (a list of strings), read as one padded batch with lengths."""
    if isinstance(texts, Vocab):
        raise TypeError("predict(model, texts, vocab): the texts come before the vocabulary")
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("predict: texts must be a list of strings (for one text, pass [text])")
    if len(texts) == 0:
        return []
    device = _model_device(model, device)
    x, lengths, _ = pad_length(encode_dataset([(0, t) for t in texts], vocab))
    with eval_mode(model):
        return model(x.to(device), lengths).argmax(-1).tolist()


# ----------------------------------------------------------------------------
# 7. Characters


def char_vocab(text: str) -> Vocab:
    """A character vocabulary of ``text`` (no specials; frequent characters first).

    >>> v = char_vocab('hello')
    >>> v.itos, v.encode('hole'), v.decode([2, 0])
    (['l', 'e', 'h', 'o'], [2, 3, 0, 1], 'hl')

    ``text`` must be a non-empty str (``TypeError``/``ValueError`` otherwise).
    """
    if not isinstance(text, str):
        raise TypeError(f"char_vocab: text must be a str, not {_describe(text)}")
    if not text:
        raise ValueError("char_vocab: text is empty, so it has no character")
    return Vocab.build([text], tokenizer=list, specials=(), sep="")


def char_dataset(ids: torch.Tensor, seq_len: int) -> torch.utils.data.TensorDataset:
    """Cut a 1-D tensor of character ids into ``(input, target)`` pairs of length ``seq_len``.

    ``input`` is ``ids[k*seq_len : (k+1)*seq_len]`` and ``target`` the same
    window shifted by one character: the model learns to predict each next
    character. Items are ``(input (seq_len,), target (seq_len,))``: inputs
    first, target last, like every batch of the course.

    >>> char_dataset(torch.arange(7), 3)[1]
    (tensor([3, 4, 5]), tensor([4, 5, 6]))
    """
    _check_ids("ids", ids, dim=1)
    _check_int("seq_len", seq_len)
    n = (len(ids) - 1) // seq_len
    if n < 1:  # an empty text gave n = -1 and an empty data set
        raise ValueError(f"ids: a text of {len(ids)} characters is too short for sequences of {seq_len}")
    inputs = ids[: n * seq_len].view(n, seq_len)
    targets = ids[1 : n * seq_len + 1].view(n, seq_len)
    return torch.utils.data.TensorDataset(inputs, targets)


def text_windows(ids: torch.Tensor, batch_size: int, seq_len: int, offset: int = 0):
    """``ids`` (1-D) as ``batch_size`` continuous streams, read side by side ``seq_len`` characters at a time.

    The text from ``offset`` on is cut into ``batch_size`` equal streams; window
    ``k`` holds characters ``k * seq_len ...`` of every stream. Yields ``(x, y)``,
    each ``(batch_size, <= seq_len)``, ``y`` being ``x`` shifted by one character:
    inputs first, target last. Window ``k + 1`` of a stream continues window ``k``.

    >>> [(x.tolist(), y.tolist()) for x, y in text_windows(torch.arange(9), batch_size=2, seq_len=3)]
    [([[0, 1, 2], [4, 5, 6]], [[1, 2, 3], [5, 6, 7]]), ([[3], [7]], [[4], [8]])]

    Bad arguments raise at the call, not at the first window.
    """
    _check_ids("ids", ids, dim=1)
    _check_int("batch_size", batch_size)
    _check_int("seq_len", seq_len)
    _check_int("offset", offset, low=0)
    n = (len(ids) - 1 - offset) // batch_size  # characters per stream
    if n < 1:
        raise ValueError(
            f"ids: a text of {len(ids)} characters is too short for {batch_size} streams from offset {offset}"
        )
    inputs = ids[offset : offset + n * batch_size].view(batch_size, n)
    targets = ids[offset + 1 : offset + n * batch_size + 1].view(batch_size, n)
    return ((inputs[:, i : i + seq_len], targets[:, i : i + seq_len]) for i in range(0, n, seq_len))


def _language_model(caller: str, model, x: torch.Tensor, state):
    """``model(x, state)``, raising ``TypeError`` unless it is ``(logits (B, T, V), state)`` as ``CharLSTM`` returns."""
    output = model(x, state)
    logits = output[0] if isinstance(output, tuple) and len(output) == 2 else None
    if not (isinstance(logits, torch.Tensor) and logits.dim() == 3):
        raise TypeError(
            f"{caller} needs a language model called as model(x (B, T), state) -> (logits (B, T, V), state), "
            f"like CharLSTM; this model returned {_describe(output)}"
        )
    return output


def _detach(state):
    """A recurrent state (a tensor, or a tuple like an LSTM's ``(h, c)``) cut from its graph."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def train_text(
    model,
    ids: torch.Tensor,
    optimizer,
    batch_size: int = 64,
    seq_len: int = 100,
    clip: float | None = None,
    offset: int = 0,
    progress: bool = True,
    desc: str = "train",
) -> dict:
    """One epoch of **truncated backpropagation through time** over ``ids`` read as continuous text.

    The text is read as in ``text_windows``: ``batch_size`` streams side by side,
    ``seq_len`` characters at a time. The model's state is **carried** from each
    window to the next, so it learns to use what it read before the window (as
    ``generate`` and ``evaluate_text`` use it), but **detached**, so gradients
    flow back at most ``seq_len`` steps and a step costs the same at the end of
    the book as at its start. Each input is the true previous character
    (teacher forcing). ``offset`` (``0 <= offset < seq_len``) shifts where the
    windows fall, so that epochs cut the text in different places.

    ``model(x, state) -> (logits (B, T, V), state)``. Returns ``{'loss', 'acc',
    'samples', 'seconds', 'grad_norms'}`` like ``run_epoch`` (``samples``: characters).
    A NaN or infinite loss raises ``ValueError`` (checked every 25 windows and at the end).
    """
    device = _model_device(model)
    _check_optimizer(optimizer)
    if clip is not None:
        _check_positive("clip", clip)
    windows = list(text_windows(ids, batch_size, seq_len, offset))
    if offset >= seq_len:
        raise ValueError(f"offset must lie in 0..{seq_len - 1} (seq_len - 1), not {offset}")
    total_loss = correct = count = 0
    grad_norms, state, start = [], None, time.perf_counter()
    model.train()
    for step, (x, y) in enumerate(tqdm(windows, desc=desc, disable=not progress, leave=False, mininterval=0.5)):
        x, y = x.to(device), y.to(device)
        logits, state = _language_model("train_text", model, x, state)
        state = _detach(state)  # carried forward, but no gradient flows into the previous window
        loss = cross_entropy(logits, y)
        total_loss += loss.detach() * y.numel()
        count += y.numel()
        if step % 25 == 0:  # one GPU sync every 25 windows: a NaN loss stops before it trains on
            _check_loss(float(total_loss) / count, f"by window {step + 1}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norms.append(nn.utils.clip_grad_norm_(model.parameters(), clip if clip is not None else math.inf))
        optimizer.step()
        correct += (logits.argmax(-1) == y).sum()
    mean_loss = float(total_loss) / count
    _check_loss(mean_loss, f"after {len(windows)} windows")
    return {
        "loss": mean_loss,
        "acc": float(correct) / count,
        "samples": count,
        "seconds": time.perf_counter() - start,
        "grad_norms": torch.stack(grad_norms).tolist(),
    }


@torch.no_grad()
def evaluate_text(model, ids: torch.Tensor, batch_size: int = 64, seq_len: int = 100) -> dict:
    """Loss per character of a character language model reading ``ids`` as one continuous text.

    ``ids`` (1-D) is read as in ``text_windows``: ``batch_size`` streams side by
    side, ``seq_len`` characters at a time, with the state carried from each
    window to the next (as ``generate`` does): every character is predicted from
    all of its stream before it, not from a fresh state every ``seq_len``
    characters as ``evaluate`` on a ``char_dataset`` does. Returns
    ``{'loss', 'acc', 'samples', 'seconds'}`` (``samples``: characters predicted).

    >>> model = CharLSTM(5, embed_dim=4, hidden_dim=8)
    >>> evaluate_text(model, torch.arange(5).repeat(40), batch_size=2, seq_len=16)["samples"]
    198

    A NaN or infinite loss raises ``ValueError``.
    """
    device = _model_device(model)
    total_loss = correct = count = 0
    state, start = None, time.perf_counter()
    with eval_mode(model):
        for x, y in text_windows(ids, batch_size, seq_len):
            x, y = x.to(device), y.to(device)
            logits, state = _language_model("evaluate_text", model, x, state)  # (B, T, V)
            total_loss += F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), reduction="sum").item()
            correct += (logits.argmax(-1) == y).sum().item()
            count += y.numel()
    _check_loss(total_loss / count, f"over {count} characters")
    return {
        "loss": total_loss / count,
        "acc": correct / count,
        "samples": count,
        "seconds": time.perf_counter() - start,
    }


def softmax_with_temperature(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Probabilities ``softmax(logits / temperature)`` over the last axis, computed stably.

    Subtracting the largest logit first changes nothing mathematically but keeps
    ``exp`` from overflowing (logits of 1000 would give ``inf / inf = nan``).
    Low temperatures sharpen the distribution, high ones flatten it.

    >>> softmax_with_temperature(torch.tensor([1., 1., 3.]), 1.0)
    tensor([0.1065, 0.1065, 0.7870])

    ``logits``: a floating-point tensor ``(..., V)``, ``V >= 1``. A row whose
    largest logit (divided by ``temperature``) is not finite has no distribution
    (all ``-inf``, a NaN, ``+inf``): it raises ``ValueError`` rather than give NaN.
    """
    if not (isinstance(logits, torch.Tensor) and logits.is_floating_point() and logits.dim() and logits.size(-1)):
        raise TypeError(f"logits must be a floating-point tensor (..., V) with V >= 1, not {_describe(logits)}")
    _check_positive("temperature", temperature)
    z = logits / temperature
    top = z.max(dim=-1, keepdim=True).values  # nan if the row holds one
    if not torch.isfinite(top).all():
        raise ValueError(
            "logits must hold a finite largest value in every row (logits / temperature): a row that is all -inf, "
            f"or holds nan or +inf, has no distribution (temperature {temperature})"
        )
    z = torch.exp(z - top)
    return z / z.sum(dim=-1, keepdim=True)


@torch.no_grad()
def generate(
    model,
    prefix: str,
    vocab: Vocab,
    length: int = 200,
    temperature: float | None = 1.0,
    generator: torch.Generator | None = None,
) -> str:
    """Continue ``prefix`` by ``length`` characters with a character language model.

    Args:
        model: called as ``model(x (1, T), state) -> (logits (1, T, V), state)``.
        prefix, vocab: the text to continue and the model's character
            vocabulary (the order of ``predict(model, texts, vocab)``).
        temperature: sample from ``softmax_with_temperature(logits, temperature)``;
            ``None`` (or 0) picks the most likely character (greedy).
        generator: a ``torch.Generator`` for reproducible samples.

    Returns ``prefix`` followed by the generated characters. Logits that are all
    ``-inf`` or hold NaN raise ``ValueError`` (greedy or sampled).
    """
    if isinstance(prefix, Vocab):
        raise TypeError("generate(model, prefix, vocab): the prefix comes before the vocabulary")
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a string of at least one character, not {prefix!r}")
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be the model's Vocab (e.g. from char_vocab), not {_describe(vocab)}")
    _check_int("length", length, low=0)
    if temperature:  # None or 0: greedy
        _check_positive("temperature", temperature)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, not {_describe(generator)}")
    try:
        ids = vocab.encode(prefix)
    except KeyError as e:
        raise ValueError(f"prefix: {e.args[0]}") from None
    device = _model_device(model)
    out = []
    with eval_mode(model):
        logits, state = _language_model("generate", model, torch.tensor([ids], device=device), None)
        if logits.size(-1) != len(vocab):
            raise ValueError(
                f"the model has {logits.size(-1)} outputs but vocab has {len(vocab)} tokens: "
                "build the model with vocab_size=len(vocab) of this vocabulary"
            )
        for _ in range(length):
            last = logits[0, -1].float().cpu()
            if not temperature:
                if not torch.isfinite(last.max()):  # argmax would pick a nan, or the first of all -inf
                    raise ValueError(f"the model's logits after {prefix + vocab.decode(out)!r} have no finite maximum")
                index = int(last.argmax())
            else:
                index = int(torch.multinomial(softmax_with_temperature(last, temperature), 1, generator=generator))
            out.append(index)
            logits, state = _language_model("generate", model, torch.tensor([[index]], device=device), state)
    return prefix + vocab.decode(out)


def ngram_counts(text: str, order: int) -> tuple[list[collections.Counter], list[dict]]:
    """Count the character n-grams of ``text`` for n = 1 .. ``order``: the data of an n-gram model.

    Returns ``(counts, contexts)``, two lists of ``order`` entries: ``counts[k]``
    maps each string of ``k + 1`` characters to how often it occurs in ``text``;
    ``contexts[k]`` maps each context ``h`` of ``k`` characters to ``(N(h), K(h))``,
    how often ``h`` is followed by a character and by how many distinct ones.

    >>> counts, contexts = ngram_counts("abab", order=2)
    >>> counts[1], contexts[1]
    (Counter({'ab': 2, 'ba': 1}), {'a': (2, 1), 'b': (1, 1)})
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"ngram_counts: text must be a non-empty str, not {_describe(text)}")
    _check_int("order", order)
    counts, contexts = [], []
    for k in range(order):
        grams = collections.Counter(text[i - k : i + 1] for i in range(k, len(text)))
        totals, kinds = collections.Counter(), collections.Counter()
        for gram, count in grams.items():
            totals[gram[:-1]] += count
            kinds[gram[:-1]] += 1
        counts.append(grams)
        contexts.append({h: (totals[h], kinds[h]) for h in totals})
    return counts, contexts


def ngram_losses(model, text: str, discount: float, vocab_size: int, start: int = 1) -> list[float]:
    """Mean ``-ln p`` (nats per character) of ``text[start:]`` under n-gram models of every order.

    Interpolated absolute discounting (Ney, Essen & Kneser 1994): with ``h`` the
    ``n - 1`` characters before ``c`` and ``h'`` the same without its first one,

        p_n(c | h) = (max(N(hc) - D, 0) + D K(h) p_{n-1}(c | h')) / N(h),

    ``p_n = p_{n-1}`` where ``N(h) = 0`` (an unseen context), and ``p_0`` is uniform
    over ``vocab_size`` characters. The context is read from ``text`` itself, so
    characters before ``start`` serve as history; near the start of ``text`` the
    context is shorter.

    Args:
        model: ``(counts, contexts)`` from ``ngram_counts(train_text, order)``.
        text: the text to score; ``start`` (``0 <= start < len(text)``): the first
            character scored.
        discount: ``D``, in ``(0, 1]`` (above 1 the probabilities would not sum to 1).
        vocab_size: the number of characters ``p_0`` spreads over.

    Returns ``order`` floats: element ``n - 1`` is the loss of the ``n``-gram model.

    >>> model = ngram_counts("abab", order=2)
    >>> [round(loss, 3) for loss in ngram_losses(model, "ab", discount=0.5, vocab_size=2)]
    [0.693, 0.134]
    """
    counts, contexts = _check_ngram_model(model)
    if not isinstance(text, str) or not text:
        raise ValueError(f"ngram_losses: text must be a non-empty str, not {_describe(text)}")
    if isinstance(discount, bool) or not isinstance(discount, numbers.Real) or not 0 < discount <= 1:
        raise ValueError(f"discount must be a number in (0, 1], not {_describe(discount)}")
    _check_int("vocab_size", vocab_size)
    _check_int("start", start, low=0)
    if start >= len(text):
        raise ValueError(f"start = {start} leaves nothing to score in a text of {len(text)} characters")
    order = len(counts)
    losses = [0.0] * order
    for i in range(start, len(text)):
        p = 1 / vocab_size  # p_0: uniform
        for k in range(min(order, i + 1)):  # k characters of context: the (k + 1)-gram
            total, kinds = contexts[k].get(text[i - k : i], (0, 0))
            if total:
                p = (max(counts[k].get(text[i - k : i + 1], 0) - discount, 0) + discount * kinds * p) / total
            if p <= 0:
                raise ValueError(f"character {text[i]!r} has probability 0: vocab_size {vocab_size} is too small?")
            losses[k] -= math.log(p)
        for k in range(i + 1, order):  # the first characters of text have a shorter history
            losses[k] -= math.log(p)
    return [loss / (len(text) - start) for loss in losses]


def _check_ngram_model(model) -> tuple[list, list]:
    if not (isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], list) and isinstance(model[1], list)):
        raise TypeError(f"model must be the (counts, contexts) of ngram_counts, not {_describe(model)}")
    if not model[0] or len(model[0]) != len(model[1]):
        raise ValueError("model: counts and contexts must be non-empty lists of the same length (from ngram_counts)")
    return model


# ----------------------------------------------------------------------------
# 8. Time series

ETT_BORDERS = {"train": (0, 8640), "val": (8640, 11520), "test": (11520, 14400)}  # 12 / 4 / 4 months of hours


def load_ett() -> tuple[list[str], torch.Tensor, list[str]]:
    """The ETTh1 series (Zhou et al., 2021): hourly readings of an electricity transformer.

    Returns ``(dates, values, columns)``: 17,420 time stamps
    (``'2016-07-01 00:00:00'`` ...), ``values`` ``(17420, 7)`` float32 and the
    column names ``HUFL, HULL, MUFL, MULL, LUFL, LULL`` (six loads) and ``OT``
    (the oil temperature). The file is read unchanged (its license, CC BY-ND 4.0,
    allows no modified copies); quick mode reads the same file, shipped in
    ``data/quick``.
    """
    rows = read_csv("ett/ETTh1.csv")
    if not rows or rows[0][:1] != ["date"] or any(len(r) != len(rows[0]) for r in rows):
        raise DataError("ett/ETTh1.csv does not have the columns date,HUFL,...,OT on every row")
    header, *rows = rows
    try:
        values = torch.tensor([[float(v) for v in r[1:]] for r in rows], dtype=torch.float32)
    except ValueError as e:
        raise DataError(f"ett/ETTh1.csv holds a value that is not a number ({e})") from e
    return [r[0] for r in rows], values, header[1:]


def standardize(values: torch.Tensor, end: int = ETT_BORDERS["train"][1]):
    """Z-score each column with the mean and standard deviation of rows ``[0, end)`` (the train split).

    ``values``: ``(N, C)`` floating point. Returns ``(scaled (N, C), mean (C,), std (C,))``;
    ``scaled * std + mean`` gives the values back. Only training rows set the
    scale, so nothing of the validation or test period leaks into it. A column
    that is constant over those rows has no spread to divide by: its ``std`` is
    given as 1 (as scikit-learn's ``StandardScaler`` does), so it scales to 0
    rather than to NaN. NaN or inf in those rows raise ``ValueError``.
    """
    if not (isinstance(values, torch.Tensor) and values.dim() == 2 and values.is_floating_point()):
        got = f"{_describe(values)} {values.dtype}" if isinstance(values, torch.Tensor) else _describe(values)
        raise TypeError(f"values must be a (N, C) floating-point tensor (one series: values[:, None]), not {got}")
    _check_int("end", end, low=2)
    if end > len(values):
        raise ValueError(f"end must lie in 2..{len(values)} (rows that set the scale), not {end}")
    train = values[:end]
    if not torch.isfinite(train).all():
        raise ValueError(f"values hold NaN or inf in rows [0, {end}), which set the scale")
    mean, std = train.mean(0), train.std(0, unbiased=False)
    std = torch.where(train.amax(0) > train.amin(0), std, torch.ones_like(std))  # constant columns: 1
    return (values - mean) / std, mean, std


def forecast_windows(
    series: torch.Tensor, split: str, lookback: int = 96, horizon: int = 96, stride: int = 1
) -> torch.utils.data.TensorDataset:
    """Input/target windows of ``series`` whose targets start inside ``split``, by the standard ETT borders.

    ``series``: ``(N, C)``. ``split`` is ``'train'``, ``'val'`` or ``'test'``
    (``ETT_BORDERS``: rows [0, 8640), [8640, 11520), [11520, 14400)). Window
    ``k`` reads ``lookback`` rows and forecasts the ``horizon`` rows after them;
    every forecast row lies inside the split, and the look-back may reach into
    the previous split (as in Informer's and every later paper's code). With
    ``stride`` 1 that gives 8,449 / 2,785 / 2,785 windows at 96 / 96.

    Items: ``(x (lookback, C), y (horizon, C))``: inputs first, target last.

    >>> data = forecast_windows(torch.arange(14400.0)[:, None], 'test')
    >>> len(data), data[0][0][0].item(), data[0][1][0].item(), data[-1][1][-1].item()
    (2785, 11424.0, 11520.0, 14399.0)
    """
    if not (isinstance(series, torch.Tensor) and series.dim() == 2):
        raise TypeError(f"series must be a (N, C) tensor (one column: series[:, None]), not {_describe(series)}")
    if not isinstance(split, str) or split not in ETT_BORDERS:
        raise ValueError(f"split must be one of {', '.join(ETT_BORDERS)}, not {split!r}")
    _check_int("lookback", lookback)
    _check_int("horizon", horizon)
    _check_int("stride", stride)
    start, end = ETT_BORDERS[split]
    if end > len(series):
        raise ValueError(
            f"a series of {len(series)} rows is too short for the {split!r} split, which ends at row {end}"
        )
    first = max(start - lookback, 0)  # the first window's first input row
    if end - first < lookback + horizon:
        raise ValueError(
            f"lookback + horizon ({lookback} + {horizon} rows) is longer than the {split!r} split with its look-back "
            f"(rows {first}..{end - 1}): no window fits"
        )
    windows = series[first:end].unfold(0, lookback + horizon, stride)  # (n, C, lookback + horizon): a view
    windows = windows.transpose(1, 2)  # (n, lookback + horizon, C)
    return torch.utils.data.TensorDataset(windows[:, :lookback], windows[:, lookback:])


@torch.no_grad()
def evaluate_forecast(model, loader, device=None) -> dict:
    """Test MSE and MAE of a forecaster over every window and value of ``loader``.

    Batches are ``(x, y)``; ``model(x)`` returns a forecast of ``y``'s shape
    ``(B, horizon, C)``. Returns ``{'mse', 'mae', 'windows'}``: the squared and
    absolute errors averaged over all windows, steps and columns (on the scale
    of ``y``: z-scores in the standard protocol), as the published tables report them.
    A model without parameters (a baseline) runs on the CPU unless ``device`` is
    given; a NaN or infinite error raises ``ValueError``.
    """
    device = _model_device(model, device)
    if not isinstance(loader, Iterable):
        raise TypeError(f"loader must be a DataLoader of (x, y) batches, not {loader!r}")
    squared = absolute = 0.0
    count = windows = 0
    with eval_mode(model):
        for batch in loader:
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise TypeError(
                    f"each batch of loader must be (x, y), inputs first and target last, not {_describe(batch)}"
                )
            x, y = batch
            forecast = model(x.to(device))
            if not isinstance(forecast, torch.Tensor) or forecast.shape != y.shape:
                raise ValueError(
                    f"the forecast {_describe(forecast)} does not have the target's shape {tuple(y.shape)}"
                )
            error = forecast.float() - y.to(device)
            squared += error.pow(2).sum().item()
            absolute += error.abs().sum().item()
            count += y.numel()
            windows += len(y)
    if count == 0:
        raise ValueError("the loader yielded no batch" if windows == 0 else "the targets y hold no value (width 0)")
    _check_loss(squared / count, f"(mean squared error) over {windows} windows")
    return {"mse": squared / count, "mae": absolute / count, "windows": windows}


# ----------------------------------------------------------------------------
# 9. Sequence to sequence: spelling to pronunciation


def load_cmudict() -> list[tuple[str, list[str]]]:
    """Every entry of the CMU Pronouncing Dictionary as ``(word, phonemes)``.

    135,166 entries of 126,052 distinct words: ``('abandon', ['AH0', 'B', 'AE1',
    'N', 'D', 'AH0', 'N'])``. An alternative pronunciation (``word(2)`` in the
    file) is one more entry with the same word; comments after ``#`` are
    dropped. Phonemes are ARPAbet; vowels carry a stress digit (0, 1, 2).
    """
    entries = []
    for number, line in enumerate(_read_text("cmudict/cmudict.dict").splitlines(), 1):
        fields = line.split("#")[0].split()
        if len(fields) < 2:  # a blank line failed to unpack before
            raise DataError(f"cmudict/cmudict.dict line {number} has no word and phonemes: {line!r}")
        word, *phonemes = fields
        entries.append((word.split("(")[0], phonemes))
    return entries


def split_by_word(entries, fractions=(0.9, 0.05, 0.05), seed: int = 0):
    """Split ``(word, phonemes)`` entries into train / validation / test parts **by word**.

    Every pronunciation of a word lands in the same part, so a test word is
    never seen in training with another pronunciation. Words are shuffled
    with ``seed``; the parts keep the input order of their entries.

    >>> parts = split_by_word([('a', ['AH0']), ('a', ['EY1']), ('b', ['B'])], (0.5, 0.5, 0.0))
    >>> sorted(len(p) for p in parts)  # both pronunciations of 'a' in one part
    [0, 1, 2]
    """
    if not _is_collection(entries):
        raise TypeError(f"entries must be a list of (word, phonemes) pairs, not {_describe(entries)}")
    entries = list(entries)  # read twice below: a generator would give empty parts
    for i, entry in enumerate(entries):
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str)):
            raise TypeError(f"entries must be (word, phonemes) pairs, but item {i} is {entry!r}")
    numbers_ok = isinstance(fractions, (tuple, list)) and len(fractions) == 3
    numbers_ok = numbers_ok and all(
        isinstance(f, numbers.Real) and not isinstance(f, bool) and f >= 0 for f in fractions
    )
    if not (numbers_ok and abs(sum(fractions) - 1) <= 1e-9):  # also refuses nan
        raise ValueError(f"fractions must be three non-negative numbers that add up to 1, not {fractions!r}")
    _check_int("seed", seed, low=0)
    words = sorted({word for word, _ in entries})
    random.Random(seed).shuffle(words)
    cut1 = round(fractions[0] * len(words))
    cut2 = cut1 + round(fractions[1] * len(words))
    part = {w: 0 if i < cut1 else 1 if i < cut2 else 2 for i, w in enumerate(words)}
    parts = ([], [], [])
    for word, phonemes in entries:
        parts[part[word]].append((word, phonemes))
    return parts


def pad_pairs(batch):
    """Collate ``(source ids, target ids)`` pairs into ``(x, lengths, y_in, y)``: inputs first, target last.

    Each target holds ``<bos> t_1 ... t_n <eos>``. Returns ``x`` ``(B, S)``
    padded with 0 and its ``lengths`` ``(B,)`` (CPU); the decoder's inputs
    ``y_in = <bos> t_1 ... t_n`` ``(B, T)`` padded with 0 (teacher forcing:
    the true previous token at every step); the targets ``y = t_1 ... t_n <eos>``
    ``(B, T)`` padded with -100, which the loss ignores.

    >>> x, lengths, y_in, y = pad_pairs([(torch.tensor([5, 6]), torch.tensor([1, 7, 2]))])
    >>> x.tolist(), lengths.tolist(), y_in.tolist(), y.tolist()
    ([[5, 6]], [2], [[1, 7]], [[7, 2]])
    """
    _check_batch(batch)
    for i, pair in enumerate(batch):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(_is_ids(t) for t in pair)):
            raise TypeError(
                f"item {i} of the batch must be (source ids, target ids), 1-D int64 tensors, not {_describe(pair)}"
            )
    if any(len(target) < 2 for _, target in batch):
        raise ValueError("every target must hold at least <bos> and <eos>")
    x, lengths, _ = pad_length([(source, 0) for source, _ in batch])
    y_in = nn.utils.rnn.pad_sequence([t[:-1] for _, t in batch], batch_first=True, padding_value=0)
    y = nn.utils.rnn.pad_sequence([t[1:] for _, t in batch], batch_first=True, padding_value=-100)
    return x, lengths, y_in, y


def _is_ids(value) -> bool:
    """True for a 1-D int64 tensor (one sequence of token ids)."""
    return isinstance(value, torch.Tensor) and value.dim() == 1 and value.dtype == torch.long


@torch.no_grad()
def beam_search(step, state, bos: int, eos: int, beam_size: int = 5, max_len: int = 50):
    """The most likely output sequence of a decoder, by beam search.

    At every step each live sequence is extended by every token and the
    ``beam_size`` best extensions (by total log-probability, not normalised by
    length) are kept; an extension that ends with ``eos`` leaves the beam as a
    finished candidate, and the beam is not refilled, so it shrinks. The search
    stops when no live sequence can beat the best finished one (log-probabilities
    only fall), when none is left, or after ``max_len`` steps.
    ``beam_size=1`` is greedy decoding.

    Args:
        step: ``step(tokens (K,), state) -> (log_probs (K, V), state)``: one
            decoder step for ``K`` sequences side by side; ``state`` is a
            tensor or a tuple of tensors whose first axis is the ``K`` sequences.
        state: the decoder's initial state for one input, first axis of size 1.
        bos, eos: the start and end tokens.

    Returns ``(tokens, log_prob)``: the best sequence without ``bos`` and
    ``eos``, and its log-probability (``eos`` included). Bad arguments raise
    ``TypeError``/``ValueError``, and so does a ``step`` that returns anything but
    ``(K, V)`` log-probabilities (values above 0, NaN, or every one ``-inf``).

    A toy decoder whose next token depends on the last one only (0 is ``bos``,
    1 is ``eos``): greedy takes 2 (p = 0.55), then ends (0.4): 0.22 in all;
    a beam of 2 also keeps 3 (0.45), which ends with 0.9: 0.405.

    >>> table = torch.tensor([[0, 0, 0.55, 0.45], [1, 0, 0, 0], [0, 0.4, 0.3, 0.3], [0, 0.9, 0.05, 0.05]]).log()
    >>> def step(tokens, state):
    ...     return table[tokens], state
    >>> for k in (1, 2):
    ...     tokens, log_prob = beam_search(step, torch.zeros(1), bos=0, eos=1, beam_size=k)
    ...     print(k, tokens, round(math.exp(log_prob), 3))
    1 [2] 0.22
    2 [3] 0.405
    """
    if not callable(step):
        raise TypeError(f"step must be a function step(tokens, state) -> (log_probs, state), not {step!r}")
    for name, value, low in (("bos", bos, 0), ("eos", eos, 0), ("beam_size", beam_size, 1), ("max_len", max_len, 1)):
        _check_int(name, value, low)

    def select(state, index):
        return tuple(s[index] for s in state) if isinstance(state, tuple) else state[index]

    tokens = torch.tensor([bos])  # the last token of each live sequence, (K,)
    scores = torch.zeros(1)  # total log-probability of each live sequence, (K,)
    sequences = [[]]
    best = (None, -math.inf)  # the best finished sequence and its score
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        if not (isinstance(log_probs, torch.Tensor) and log_probs.dim() == 2 and len(log_probs) == len(tokens)):
            raise ValueError(
                f"step must return log_probs (K, V) for its K = {len(tokens)} sequences, not {_describe(log_probs)}"
            )
        if eos >= log_probs.size(1):
            raise ValueError(f"eos {eos} is not a token of step's {log_probs.size(1)} outputs: no sequence could end")
        device, log_probs = log_probs.device, log_probs.float().cpu()  # the state stays on the decoder's device
        if not log_probs.max() <= 1e-4:  # also catches nan
            raise ValueError(
                "step must return log-probabilities (at most 0, e.g. log_softmax of the logits), "
                f"got up to {float(log_probs.max())}"
            )
        total = (scores[:, None] + log_probs).flatten()  # (K * V,)
        top, index = total.topk(min(beam_size, len(total)))
        if top[0] == -math.inf:
            raise ValueError("step gave every continuation a log-probability of -inf: no sequence can go on")
        rows, columns = index // log_probs.size(1), index % log_probs.size(1)
        keep = []
        for score, row, column in zip(top.tolist(), rows.tolist(), columns.tolist()):
            if column == eos:
                if score > best[1]:
                    best = (sequences[row], score)
            else:
                keep.append((score, row, column))
        if not keep or best[1] >= keep[0][0]:  # nothing left that could beat the best finished sequence
            break
        scores = torch.tensor([score for score, _, _ in keep])
        rows = torch.tensor([row for _, row, _ in keep])
        tokens = torch.tensor([column for _, _, column in keep])
        sequences = [sequences[row] + [column] for _, row, column in keep]
        state = select(state, rows.to(device))
    if best[0] is None:  # no sequence ended within max_len: return the best unfinished one
        return sequences[0], float(scores[0])
    return best[0], best[1]


def edit_distance(a, b) -> int:
    """The Levenshtein distance between sequences ``a`` and ``b``: the fewest insertions,
    deletions and substitutions that turn one into the other.

    >>> edit_distance(['K', 'AE1', 'T'], ['K', 'AA1', 'T', 'S']), edit_distance('', 'abc')
    (2, 3)

    ``a`` and ``b`` are sequences (lists of phonemes, or strings); anything else raises ``TypeError``.
    """
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a sequence (a list of phonemes, or a str), not {_describe(value)}")
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def strip_stress(phonemes: list[str]) -> list[str]:
    """ARPAbet phonemes without stress digits: ``['AH0', 'B']`` -> ``['AH', 'B']`` (39 phonemes left).

    ``phonemes`` must be a list of str (a string such as ``'AH0 B'`` raises ``TypeError``: split it first).
    """
    if not _is_phonemes(phonemes):
        raise TypeError(f"phonemes must be a list of str, e.g. ['AH0', 'B'] (split a string first), not {phonemes!r}")
    return [p.rstrip("012") for p in phonemes]


def _is_phonemes(value) -> bool:
    """True for a list (or tuple) of str: one pronunciation."""
    return isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value)


def error_rates(predictions, references, stress: bool = True) -> dict:
    """Word and phoneme error rates of predicted pronunciations.

    Args:
        predictions: one phoneme list per word.
        references: for each word, the list of its correct pronunciations.
        stress: compare stress digits too; ``False`` strips them first (the
            39-phoneme scoring of published CMUdict results).

    Returns ``{'wer', 'per', 'words'}``: the share of words whose prediction
    is not one of their pronunciations, and the edit distance to the closest
    pronunciation summed over words, divided by the summed length of those
    closest pronunciations. Inputs of another shape (e.g. one pronunciation per
    word instead of a list of them) raise ``TypeError``.

    >>> cat, dog = ['K', 'AE1', 'T'], ['D', 'AO1', 'G']
    >>> error_rates([cat, dog], [[cat], [['D', 'AA1', 'G'], ['D', 'AO1', 'G', 'Z']]])  # dog: 1 edit of 3 or of 4
    {'wer': 0.5, 'per': 0.16666666666666666, 'words': 2}
    >>> error_rates([cat, dog], [[cat], [['D', 'AA1', 'G']]], stress=False)['wer']  # AO and AA still differ
    0.5
    """
    _check_bool("stress", stress)
    for name, value in (("predictions", predictions), ("references", references)):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name} must be a list with one item per word, not {_describe(value)}")
    if len(predictions) != len(references) or not predictions:
        raise ValueError(f"need one prediction per word, got {len(predictions)} for {len(references)} words")
    for i, (predicted, pronunciations) in enumerate(zip(predictions, references)):
        if not _is_phonemes(predicted):
            raise TypeError(f"predictions[{i}] must be a list of phonemes (str), not {predicted!r}")
        if not (
            isinstance(pronunciations, (list, tuple))
            and pronunciations
            and all(_is_phonemes(p) and p for p in pronunciations)
        ):
            raise TypeError(
                f"references[{i}] must be a non-empty list of pronunciations, each a non-empty list of phonemes, "
                f"not {pronunciations!r}"
            )
    wrong = edits = length = 0
    for predicted, pronunciations in zip(predictions, references):
        if not stress:
            predicted, pronunciations = strip_stress(predicted), [strip_stress(p) for p in pronunciations]
        distance, closest = min((edit_distance(predicted, p), len(p)) for p in pronunciations)
        wrong += distance > 0
        edits += distance
        length += closest
    return {"wer": wrong / len(predictions), "per": edits / length, "words": len(predictions)}


# ----------------------------------------------------------------------------
# 10. Parallel RNNs: the linear recurrence h_t = a_t * h_{t-1} + b_t, minGRU and minLSTM (Feng et al. 2024,
# "Were RNNs All We Needed?"), and a small causal Transformer to compare them with


def _check_scan_inputs(names: tuple[str, str, str], a, b, h0) -> None:
    """Raise unless ``a`` and ``b`` are floating-point ``(B, T, H)`` tensors of one shape, ``T >= 1``, and ``h0``
    is None or ``(B, H)`` (same dtype and device)."""
    name_a, name_b, name_h0 = names
    for name, value in ((name_a, a), (name_b, b)):
        if not (isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() == 3):
            raise TypeError(f"{name} must be a floating-point tensor (B, T, H), not {_describe(value)}")
    if a.shape != b.shape:
        raise ValueError(f"{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have the same shape (B, T, H)")
    if a.size(1) == 0:
        raise ValueError(f"{name_a} {tuple(a.shape)} has no step (T = 0)")
    if a.dtype != b.dtype or a.device != b.device:
        raise ValueError(f"{name_a} and {name_b} must have the same dtype and device")
    if h0 is None:
        return
    if not (isinstance(h0, torch.Tensor) and h0.shape == (a.size(0), a.size(2))):
        raise ValueError(f"{name_h0} must be None or a tensor {(a.size(0), a.size(2))} (B, H), not {_describe(h0)}")
    if h0.dtype != a.dtype or h0.device != a.device:
        raise ValueError(f"{name_h0} must have the dtype and device of {name_a} ({a.dtype}, {a.device})")


def scan_sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The linear recurrence ``h_t = a_t * h_{t-1} + b_t`` (elementwise), one step after the other.

    Shapes:
        ``a``, ``b``: ``(B, T, H)``; ``h0``: ``(B, H)``, or ``None`` for zeros.
        Returns every state ``h`` ``(B, T, H)`` (``h[:, t]`` is ``h_t``; ``h0`` is not included).

    >>> scan_sequential(torch.full((1, 3, 1), 0.5), torch.ones(1, 3, 1)).flatten()
    tensor([1.0000, 1.5000, 1.7500])

    T steps, each waiting for the one before: the form ``nn.GRU`` is stuck with, because
    there ``a_t`` and ``b_t`` depend on ``h_{t-1}``.
    """
    _check_scan_inputs(("a", "b", "h0"), a, b, h0)
    h = torch.zeros_like(a[:, 0]) if h0 is None else h0
    out = []
    for t in range(a.size(1)):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def scan_parallel(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """``scan_sequential``'s recurrence ``h_t = a_t * h_{t-1} + b_t`` by a parallel (Hillis-Steele) scan.

    Step ``t`` is the map ``h -> a_t h + b_t``, written ``(a_t, b_t)``; doing ``(a', b')`` then ``(a, b)``
    is the map ``(a a', a b' + b)``. Round ``k = 0, 1, ...`` combines every element ``t`` with element
    ``t - 2^k`` (the first ``2^k`` elements with the identity ``(1, 0)``: padding). After
    ``ceil(log2 T)`` rounds element ``t`` is the map of steps ``0..t`` and its ``b`` is ``h_t``.
    Each round is one elementwise operation over all T steps at once: O(T log T) work in
    O(log T) dependent rounds instead of O(T) work in T rounds.

    Shapes: as ``scan_sequential`` (``a``, ``b`` ``(B, T, H)``, ``h0`` ``(B, H)`` or ``None``; returns
    ``(B, T, H)``), and the same values up to rounding.

    >>> scan_parallel(torch.full((1, 3, 1), 0.5), torch.ones(1, 3, 1)).flatten()
    tensor([1.0000, 1.5000, 1.7500])
    """
    _check_scan_inputs(("a", "b", "h0"), a, b, h0)
    if h0 is not None:  # fold h0 into the first step: h_0' = a_0 h0 + b_0
        b = torch.cat([(a[:, 0] * h0 + b[:, 0])[:, None], b[:, 1:]], dim=1)
    shift = 1
    while shift < a.size(1):
        a_before = F.pad(a[:, :-shift], (0, 0, shift, 0), value=1.0)  # element t - shift, or the identity (1, 0)
        b_before = F.pad(b[:, :-shift], (0, 0, shift, 0), value=0.0)
        a, b = a * a_before, a * b_before + b
        shift *= 2
    return b


def scan_log(log_a: torch.Tensor, log_b: torch.Tensor, log_h0: torch.Tensor | None = None) -> torch.Tensor:
    """The recurrence ``h_t = a_t * h_{t-1} + b_t`` for positive ``a``, ``b`` (and ``h0``), computed in log space.

    Heinsen's (2023) form: with ``A_t = log a_0 + ... + log a_t`` (``cumsum``),
    ``h_t = sum_{s <= t} exp(A_t - A_s) b_s``, so
    ``log h_t = A_t + logcumsumexp(log b - A)_t``: two cumulative operations over T,
    no loop. Computed in logs, the product of many ``a_t < 1`` does not underflow (in
    float32, ``exp(A_t)`` is 0 once ``A_t < -104``), which breaks the direct closed form
    ``h = cumprod(a) * cumsum(b / cumprod(a))``. The price: ``log h_t`` is the sum of two large
    terms of opposite sign when ``A_t`` is large, so in float32 ``h`` keeps fewer digits (a relative
    error of about 3e-5 at ``A_t = -693``, 1000 steps of ``a = 0.5``).

    Shapes:
        ``log_a``, ``log_b``: ``(B, T, H)``, the logarithms of ``a`` and ``b``; ``log_h0``: ``(B, H)``,
        the logarithm of a positive initial state, or ``None`` for ``h0 = 0``. Returns ``h`` itself
        (not its log) ``(B, T, H)``; every value is positive.

    >>> scan_log(torch.full((1, 3, 1), 0.5).log(), torch.zeros(1, 3, 1)).flatten()
    tensor([1.0000, 1.5000, 1.7500])

    ``log_h0`` is prepended to ``log_b`` as an extra first step (with ``log a = 0``) and its
    output dropped. Only positive ``b`` have a (real) logarithm: minGRU and minLSTM keep
    their ``b_t`` positive with ``g`` (see ``MinGRU``).
    """
    _check_scan_inputs(("log_a", "log_b", "log_h0"), log_a, log_b, log_h0)
    if log_h0 is not None:
        log_a = F.pad(log_a, (0, 0, 1, 0), value=0.0)  # the extra first step's a does not matter
        log_b = torch.cat([log_h0[:, None], log_b], dim=1)
    a_star = torch.cumsum(log_a, dim=1)  # A_t
    log_h = a_star + torch.logcumsumexp(log_b - a_star, dim=1)
    if log_h0 is not None:
        log_h = log_h[:, 1:]
    return torch.exp(log_h)


def _g(x: torch.Tensor) -> torch.Tensor:
    """Feng et al.'s positive activation: ``x + 0.5`` for ``x >= 0``, else ``sigmoid(x)`` (continuous at 0)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def _log_g(x: torch.Tensor) -> torch.Tensor:
    """``log(_g(x))``, computed without forming ``_g(x)``: ``log(x + 0.5)``, or ``log sigmoid(x) = -softplus(-x)``."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def _check_cell_input(cell: nn.Module, x, h, dim: int) -> None:
    """Raise unless ``x`` is a floating-point tensor of ``dim`` dims ending in the cell's input size, ``T >= 1``,
    and ``h`` is None or a ``(B, H)`` tensor without negative values (or NaN)."""
    shape = "(B, T, input_size)" if dim == 3 else "(B, input_size)"
    if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.dim() == dim):
        raise TypeError(f"{type(cell).__name__}: x must be a floating-point tensor {shape}, not {_describe(x)}")
    if x.size(-1) != cell.input_size:
        raise ValueError(
            f"{type(cell).__name__}: x {tuple(x.shape)} must end in input_size = {cell.input_size} {shape}"
        )
    if dim == 3 and x.size(1) == 0:
        raise ValueError(f"{type(cell).__name__}: x {tuple(x.shape)} has no step (T = 0)")
    if h is None:
        return
    expected = (x.size(0), cell.hidden_size)
    if not (isinstance(h, torch.Tensor) and h.shape == expected):
        raise ValueError(f"{type(cell).__name__}: the state must be None or a tensor {expected}, not {_describe(h)}")
    if not (h >= 0).all():  # also refuses NaN
        raise ValueError(
            f"{type(cell).__name__}: the state must not hold negative values or NaN (every state the cell "
            "computes is positive; scan_log takes its log): pass None for zeros"
        )


def _log_state(h0: torch.Tensor | None) -> torch.Tensor | None:
    """``log(h0)`` for ``scan_log``, a 0 (a float32 state that underflowed) read as the smallest positive float
    (so that the log and its gradient stay finite); ``None`` stays ``None`` (zeros)."""
    return None if h0 is None else torch.log(h0.clamp_min(torch.finfo(h0.dtype).tiny))


class MinGRU(nn.Module):
    """minGRU (Feng et al. 2024): a GRU whose gates read only the input, so that it runs in parallel over time.

    ``z_t = sigmoid(Linear_z(x_t))``, ``h~_t = g(Linear_h(x_t))`` and ``h_t = (1 - z_t) * h_{t-1} + z_t * h~_t``:
    a linear recurrence with ``a_t = 1 - z_t`` and ``b_t = z_t * h~_t``, which do not depend on ``h``,
    so ``forward`` computes all T steps at once with ``scan_log`` (the log-space version of the
    paper's appendix). ``g(x) = x + 0.5`` for ``x >= 0``, else ``sigmoid(x)``, keeps ``h~_t``, and so
    every state, positive.

    Shapes:
        ``forward(x (B, T, input_size), h0 (B, hidden_size) or None) -> (out (B, T, hidden_size),
        h_T (B, hidden_size))``; ``out[:, t]`` is ``h_t`` and ``h_T = out[:, -1]``.
        ``step(x_t (B, input_size), h (B, hidden_size) or None) -> h_t (B, hidden_size)``: one step,
        for generation (the same values as ``forward``).

    ``h0 = None`` means zeros. Every state the cell returns is positive; a given state must not
    hold negative values (``ValueError``), and a 0 in it (e.g. a float32 state that underflowed)
    is read as the smallest positive float. Sizes must be ints of at least 1.

    >>> cell = MinGRU(3, 4)
    >>> out, h = cell(torch.randn(2, 5, 3))
    >>> out.shape, h.shape, bool((out > 0).all())
    (torch.Size([2, 5, 4]), torch.Size([2, 4]), True)
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        _check_int("input_size", input_size)
        _check_int("hidden_size", hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.linear_z = nn.Linear(input_size, hidden_size)
        self.linear_h = nn.Linear(input_size, hidden_size)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        _check_cell_input(self, x, h0, dim=3)
        k = self.linear_z(x)
        log_z = -F.softplus(-k)  # log sigmoid(k)
        log_one_minus_z = -F.softplus(k)  # log(1 - sigmoid(k))
        log_b = log_z + _log_g(self.linear_h(x))
        out = scan_log(log_one_minus_z, log_b, _log_state(h0))
        return out, out[:, -1]

    def step(self, x_t: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        _check_cell_input(self, x_t, h, dim=2)
        z = torch.sigmoid(self.linear_z(x_t))
        h_tilde = _g(self.linear_h(x_t))
        return z * h_tilde if h is None else (1 - z) * h + z * h_tilde


class MinLSTM(nn.Module):
    """minLSTM (Feng et al. 2024): an LSTM without the output gate and cell state, parallel over time.

    ``f_t = sigmoid(Linear_f(x_t))``, ``i_t = sigmoid(Linear_i(x_t))``, normalised to
    ``f'_t = f_t / (f_t + i_t)`` and ``i'_t = i_t / (f_t + i_t)`` (so that the scale of ``h`` does not
    grow with the length), and ``h_t = f'_t * h_{t-1} + i'_t * g(Linear_h(x_t))``, computed for all T at
    once with ``scan_log`` (``g`` as in ``MinGRU``).

    Shapes and state: as ``MinGRU`` (``forward(x (B, T, input_size), h0) -> (out (B, T, hidden_size),
    h_T (B, hidden_size))``, ``step(x_t (B, input_size), h) -> h_t``; a given state must not be negative).

    >>> out, h = MinLSTM(3, 4)(torch.randn(2, 5, 3))
    >>> out.shape, h.shape
    (torch.Size([2, 5, 4]), torch.Size([2, 4]))
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        _check_int("input_size", input_size)
        _check_int("hidden_size", hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.linear_f = nn.Linear(input_size, hidden_size)
        self.linear_i = nn.Linear(input_size, hidden_size)
        self.linear_h = nn.Linear(input_size, hidden_size)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        _check_cell_input(self, x, h0, dim=3)
        diff = F.softplus(-self.linear_f(x)) - F.softplus(-self.linear_i(x))  # log i - log f
        log_f = -F.softplus(diff)  # log f' = log sigmoid(log f - log i)
        log_i = -F.softplus(-diff)  # log i'
        out = scan_log(log_f, log_i + _log_g(self.linear_h(x)), _log_state(h0))
        return out, out[:, -1]

    def step(self, x_t: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        _check_cell_input(self, x_t, h, dim=2)
        f = torch.sigmoid(self.linear_f(x_t))
        i = torch.sigmoid(self.linear_i(x_t))
        h_tilde = _g(self.linear_h(x_t))
        if h is None:
            return i / (f + i) * h_tilde
        return f / (f + i) * h + i / (f + i) * h_tilde


class _MinRNNBlock(nn.Module):
    """One block of ``MinRNNLM``: ``x + Dropout(Linear(cell(LayerNorm(x))))``, then ``x + Dropout(MLP(LayerNorm(x)))``.

    ``x``: ``(B, T, width)`` (all steps, in parallel) or ``(B, width)`` (one step, through ``cell.step``);
    ``h``: ``(B, hidden_dim)`` or ``None``. Returns ``(x, h_T)`` (``h_T``: the cell's last state).
    """

    def __init__(self, width: int, hidden_dim: int, cell: str, dropout: float):
        super().__init__()
        self.norm_cell = nn.LayerNorm(width)
        self.cell = MinGRU(width, hidden_dim) if cell == "gru" else MinLSTM(width, hidden_dim)
        self.out = nn.Linear(hidden_dim, width)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None):
        if x.dim() == 3:
            out, h = self.cell(self.norm_cell(x), h)
        else:
            out = h = self.cell.step(self.norm_cell(x), h)
        x = x + self.dropout(self.out(out))
        return x + self.dropout(self.mlp(self.norm_mlp(x))), h


class MinRNNLM(nn.Module):
    """Character language model of ``num_layers`` minGRU or minLSTM blocks (``cell='gru'`` or ``'lstm'``).

    embedding ``(B, T, embed_dim)`` -> ``num_layers`` residual pre-norm blocks, each
    ``x = x + Dropout(Linear(Cell(LayerNorm(x))))`` (the cell ``embed_dim -> hidden_dim``, the
    linear layer back to ``embed_dim``) then ``x = x + Dropout(MLP(LayerNorm(x)))`` (an MLP
    ``embed_dim -> 4 embed_dim -> embed_dim`` with GELU), as in Feng et al.'s language model ->
    ``LayerNorm`` -> ``Linear`` to the logits. Every block's cell runs over all T steps at once
    (``scan_log``).

    Shapes:
        ``forward(x (B, T) ids, state) -> (logits (B, T, vocab_size), state)``, called like
        ``CharLSTM``, so that ``train_text``, ``evaluate_text`` and ``generate`` take it. ``state``:
        a tuple of ``num_layers`` tensors ``(B, hidden_dim)`` (each cell's last state; positive), or
        ``None`` for zeros.
        ``step(x_t (B,) ids, state) -> (logits (B, vocab_size), state)``: one character through
        every cell's ``step``; looped over T it gives ``forward``'s logits (up to rounding).

    >>> model = MinRNNLM(10, embed_dim=8, hidden_dim=12, num_layers=2)
    >>> logits, state = model(torch.randint(0, 10, (3, 5)))
    >>> logits.shape, [tuple(h.shape) for h in state]
    (torch.Size([3, 5, 10]), [(3, 12), (3, 12)])

    Sizes must be ints of at least 1, ``cell`` ``'gru'`` or ``'lstm'``, ``dropout`` in 0..1; a
    ``state`` of another shape raises ``ValueError``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 128,
        hidden_dim: int = 256,
        num_layers: int = 2,
        cell: str = "gru",
        dropout: float = 0.0,
    ):
        super().__init__()
        _check_int("vocab_size", vocab_size)
        _check_int("embed_dim", embed_dim)
        _check_int("hidden_dim", hidden_dim)
        _check_int("num_layers", num_layers)
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' (minGRU) or 'lstm' (minLSTM), not {cell!r}")
        _check_dropout("dropout", dropout)
        self.hidden_dim = hidden_dim
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.blocks = nn.ModuleList(_MinRNNBlock(embed_dim, hidden_dim, cell, dropout) for _ in range(num_layers))
        self.norm = nn.LayerNorm(embed_dim)
        self.fc = nn.Linear(embed_dim, vocab_size)

    def _check_state(self, state, batch_size: int) -> None:
        shape = (batch_size, self.hidden_dim)
        if state is not None and not (
            isinstance(state, tuple)
            and len(state) == len(self.blocks)
            and all(isinstance(h, torch.Tensor) and h.shape == shape for h in state)
        ):
            raise ValueError(
                f"state must be None or a tuple of {len(self.blocks)} tensors {shape} (one per layer) "
                f"for this batch, not {_describe(state)}"
            )

    def _run(self, h: torch.Tensor, state):
        """The blocks, final norm and output layer on embeddings ``h`` ``(B, T, embed_dim)`` or ``(B, embed_dim)``."""
        new_state = []
        for layer, block in enumerate(self.blocks):
            h, last = block(h, None if state is None else state[layer])
            new_state.append(last)
        return self.fc(self.norm(h)), tuple(new_state)

    def forward(self, x: torch.Tensor, state=None):
        _check_ids("x", x, dim=2, vocab_size=self.embedding.num_embeddings)
        self._check_state(state, x.size(0))
        return self._run(self.embedding(x), state)  # the embedding: (B, T, embed_dim)

    def step(self, x_t: torch.Tensor, state=None):
        _check_ids("x_t", x_t, dim=1, vocab_size=self.embedding.num_embeddings)
        self._check_state(state, x_t.size(0))
        return self._run(self.embedding(x_t), state)  # the embedding: (B, embed_dim)


class CharTransformer(nn.Module):
    """Small causal Transformer character model from PyTorch's own layers, called like ``CharLSTM``.

    token embedding + learned position embedding (``context`` positions) -> ``num_layers``
    ``nn.TransformerEncoderLayer(d_model, num_heads, 4 d_model, dropout, batch_first=True,
    norm_first=True)`` under a causal mask (each position attends to itself and the positions
    before it) -> ``LayerNorm`` -> ``Linear`` to the logits.

    Shapes:
        ``forward(x (B, T) ids, state) -> (logits (B, T, vocab_size), state)`` with ``T <= context``.
        ``state`` is what a Transformer has in place of a recurrent state: the last characters it
        read, ids ``(B, S)`` with ``1 <= S <= context - 1`` (no gradient), or ``None``. The model
        reads the last ``context - T`` characters of ``state`` followed by ``x`` (at most
        ``context`` in all) and returns logits for ``x`` only; the new ``state`` is the last
        ``context - 1`` of them. So ``train_text``, ``evaluate_text`` and ``generate`` work
        unchanged: the first character of a window sees the previous window's last
        ``context - T`` characters, and in ``generate`` (T = 1) each new character sees the
        ``context`` characters before it (its ``prefix`` must be at most ``context`` characters).
        Within ``context`` characters, reading a text in pieces gives the logits of reading it at once.

    >>> model = CharTransformer(10, d_model=8, num_heads=2, num_layers=1, context=6)
    >>> logits, state = model(torch.randint(0, 10, (3, 4)))
    >>> logits.shape, state.shape
    (torch.Size([3, 4, 10]), torch.Size([3, 4]))

    Sizes must be ints of at least 1 (``context`` at least 2), ``d_model`` a multiple of
    ``num_heads``, ``dropout`` in 0..1; ``x`` longer than ``context`` or a bad ``state`` raise
    ``ValueError``.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        num_heads: int = 4,
        num_layers: int = 2,
        context: int = 128,
        dropout: float = 0.0,
    ):
        super().__init__()
        _check_int("vocab_size", vocab_size)
        _check_int("d_model", d_model)
        _check_int("num_heads", num_heads)
        _check_int("num_layers", num_layers)
        _check_int("context", context, low=2)
        _check_dropout("dropout", dropout)
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of num_heads ({num_heads})")
        self.context = context
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, num_heads, 4 * d_model, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(d_model, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        vocab_size = self.embedding.num_embeddings
        _check_ids("x", x, dim=2, vocab_size=vocab_size)
        steps = x.size(1)
        if steps > self.context:
            raise ValueError(f"x has {steps} steps, more than context = {self.context}: read it in windows of context")
        if state is not None:
            _check_ids("state", state, dim=2, vocab_size=vocab_size)
            if state.size(0) != x.size(0) or state.size(1) >= self.context:
                raise ValueError(
                    f"state must be None or the ids (B, <= {self.context - 1}) the model returned for this "
                    f"batch of {x.size(0)}, not {tuple(state.shape)}"
                )
            keep = min(state.size(1), self.context - steps)  # the last characters read that still fit
            x = torch.cat([state[:, state.size(1) - keep :], x], dim=1)
        L = x.size(1)
        positions = torch.arange(L, device=x.device)
        h = self.dropout(self.embedding(x) + self.position(positions))  # (B, L, d_model)
        mask = nn.Transformer.generate_square_subsequent_mask(L, device=x.device)  # -inf above the diagonal
        h = self.encoder(h, mask=mask, is_causal=True)
        return self.fc(h[:, L - steps :]), x[:, max(0, L - (self.context - 1)) :].detach()


# ----------------------------------------------------------------------------
# 11. Names of the seed courses' torchnlp.py (Microsoft's "PyTorch Fundamentals" RNN unit and
# the AI-For-Beginners RNN lesson): each says what replaced it (see README, "Coming from the seed courses").
# They are module-level names, not a module ``__getattr__``, because ``from torchnlp import *`` (the
# seed notebooks' first line) copies the module's names and never asks ``__getattr__``. There is no
# ``__all__``: a star import gives every public name, as the seed's did (``torch`` included).


class _SeedName:
    """A name of the seed courses' ``torchnlp.py`` that is gone: every use raises an ``AttributeError`` naming
    its replacement (a call, an attribute, ``len``, iteration, indexing, ``in``, ``bool``, ``str``).

    Only ``repr`` answers, with the same explanation, so that a notebook or a debugger can show the name.
    """

    def __init__(self, name: str, replacement: str):
        self.message = f"torchnlp.{name} was part of the seed course's torchnlp.py; use {replacement}"

    def _fail(self, *args, **kwargs):
        raise AttributeError(self.message)

    __call__ = __len__ = __iter__ = __getitem__ = __contains__ = __bool__ = __str__ = _fail

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):  # probes by copy, pickle, inspect...: a plain miss (and no recursion)
            raise AttributeError(attribute)
        self._fail()

    def __repr__(self) -> str:
        return f"<{self.message}>"


encode = _SeedName(
    "encode", "vocab.encode(text), with the vocab that load_dataset returns (there is no global vocabulary)"
)
vocab = _SeedName("vocab", "the vocab that load_dataset returns: train, test, classes, vocab = torchnlp.load_dataset()")
tokenizer = _SeedName("tokenizer", "torchnlp.tokenize(text)")
train_epoch_emb = _SeedName(
    "train_epoch_emb",
    "torchnlp.train(model, loader, lr=...) or train_epoch(model, loader, optimizer): make_loader's batches "
    "are (x, lengths, y), and RNNClassifier(..., pack=True) packs them (use_pack_sequence)",
)
offsetify = _SeedName(
    "offsetify", "torchnlp.pad_length, whose batches are (x, lengths, y): the course uses no EmbeddingBag offsets"
)
device = get_device()  # the seed's module-level device: the best one here (read once, at import)
