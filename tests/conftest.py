import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def full_data_folder() -> Path:
    """The folder with the full data sets, from the environment variable ``TORCHNLP_TEST_DATA``.

    Unset: the test is skipped, saying so. Set to something that is not a folder: the test fails.
    ``.ci/run`` sets it to ``../shared/data`` (beside the repository) when that folder exists.
    """
    value = os.environ.get("TORCHNLP_TEST_DATA", "")
    if not value:
        pytest.skip("full-data test: set TORCHNLP_TEST_DATA to a folder with the full data sets to run it")
    folder = Path(value).expanduser()
    if not folder.is_dir():
        pytest.fail(f"TORCHNLP_TEST_DATA is set to {value!r}, which is not a folder")
    return folder


@pytest.fixture
def offline(monkeypatch):
    """Make every download fail at once, as on a machine with no network."""

    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def quick(monkeypatch, tmp_path, offline):
    """Quick mode, no data folder, an empty cache, no network."""
    monkeypatch.setenv("TORCHNLP_QUICK", "1")
    monkeypatch.delenv("TORCHNLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def full(monkeypatch, tmp_path, offline):
    """Full mode reading the full data folder (``TORCHNLP_TEST_DATA``), an empty cache, no network."""
    folder = full_data_folder()
    monkeypatch.delenv("TORCHNLP_QUICK", raising=False)
    monkeypatch.setenv("TORCHNLP_DATA", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """Full mode with no data folder and an empty cache (network left as it is)."""
    monkeypatch.delenv("TORCHNLP_QUICK", raising=False)
    monkeypatch.delenv("TORCHNLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "torchnlp"
