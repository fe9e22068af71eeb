import urllib.error
import urllib.request
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
    """Full mode reading the shared data folder, an empty cache, no network."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the full data folder {SHARED_DATA}")
    monkeypatch.delenv("TORCHNLP_QUICK", raising=False)
    monkeypatch.setenv("TORCHNLP_DATA", str(SHARED_DATA))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """Full mode with no data folder and an empty cache (network left as it is)."""
    monkeypatch.delenv("TORCHNLP_QUICK", raising=False)
    monkeypatch.delenv("TORCHNLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "torchnlp"
