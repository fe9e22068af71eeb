"""Time series: the ETTh1 data, standard windows, scaling and forecast metrics."""

import hashlib

import pytest
import torch

import torchnlp


def test_forecast_windows_follow_the_standard_borders():
    series = torch.arange(14400.0)[:, None].repeat(1, 2)  # row r holds the value r in both columns
    counts = {}
    for split, (start, end) in torchnlp.ETT_BORDERS.items():
        data = torchnlp.forecast_windows(series, split, lookback=96, horizon=96)
        counts[split] = len(data)
        x, y = data[0]
        assert x.shape == (96, 2) and y.shape == (96, 2)
        first = max(start, 96)  # the first forecast row: the split's first row (train: after a full look-back)
        assert y[0, 0] == first and x[-1, 0] == first - 1 and x[0, 0] == first - 96
        assert data[-1][1][-1, 0] == end - 1  # the last forecast row is the split's last row
        assert torch.equal(data[5][0][:, 0], torch.arange(x[0, 0] + 5, x[0, 0] + 5 + 96))  # windows slide by 1
    # train: its first window cannot look back before row 0, so its forecasts start at row 96
    assert counts == {"train": 8640 - 96 - 96 + 1, "val": 2880 - 96 + 1, "test": 2880 - 96 + 1}
    assert counts == {"train": 8449, "val": 2785, "test": 2785}


def test_forecast_windows_by_hand_on_a_small_lookback():
    series = torch.arange(14400.0)[:, None]
    data = torchnlp.forecast_windows(series, "val", lookback=3, horizon=2, stride=2)
    x, y = data[0]
    assert x.flatten().tolist() == [8637.0, 8638.0, 8639.0] and y.flatten().tolist() == [8640.0, 8641.0]
    assert data[1][0].flatten().tolist() == [8639.0, 8640.0, 8641.0]
    assert len(data) == (11520 - 8637 - 5) // 2 + 1
    assert data[-1][1][-1].item() <= 11519


def test_forecast_windows_bad_input():
    series = torch.zeros(14400, 3)
    with pytest.raises(ValueError, match="split"):
        torchnlp.forecast_windows(series, "validation")
    with pytest.raises(ValueError, match="at least 1"):
        torchnlp.forecast_windows(series, "test", lookback=0)
    with pytest.raises(ValueError, match="too short"):
        torchnlp.forecast_windows(series[:12000], "test")
    with pytest.raises(ValueError, match="stride must be at least 1"):
        torchnlp.forecast_windows(series, "test", stride=0)


def test_standardize_uses_the_train_rows_only():
    torch.manual_seed(0)
    values = torch.randn(200, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([3.0, -2.0, 7.0])
    scaled, mean, std = torchnlp.standardize(values, end=100)
    torch.testing.assert_close(scaled[:100].mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaled[:100].std(0, unbiased=False), torch.ones(3))
    torch.testing.assert_close(scaled * std + mean, values)
    changed = values.clone()
    changed[100:] += 1000.0  # the later rows do not move the scale
    _, mean2, std2 = torchnlp.standardize(changed, end=100)
    assert torch.equal(mean, mean2) and torch.equal(std, std2)
    with pytest.raises(ValueError, match="end"):
        torchnlp.standardize(values, end=500)
    with pytest.raises(ValueError, match=r"end must be at least 2"):
        torchnlp.standardize(values, end=1)  # one row has no spread: every value would become nan
    torch.testing.assert_close(torchnlp.standardize(values, end=200)[1], values.mean(0))  # every row


class Constant(torch.nn.Module):
    """A forecaster that predicts ``value`` everywhere (and has one parameter, for the device)."""

    def __init__(self, value, horizon=96):
        super().__init__()
        self.value, self.horizon = value, horizon
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.full((len(x), self.horizon, x.size(-1)), self.value)


def test_evaluate_forecast_averages_over_every_window_and_value():
    torch.manual_seed(0)
    series = torch.randn(14400, 2)
    data = torchnlp.forecast_windows(series, "test")
    loader = torch.utils.data.DataLoader(data, batch_size=256)  # the last batch holds 2785 - 10 * 256 = 225 windows
    ys = torch.stack([y for _, y in data])
    result = torchnlp.evaluate_forecast(Constant(0.5), loader)
    assert result["windows"] == 2785
    assert result["mse"] == pytest.approx((ys - 0.5).pow(2).mean().item(), rel=1e-5)
    assert result["mae"] == pytest.approx((ys - 0.5).abs().mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match="shape"):
        torchnlp.evaluate_forecast(Constant(0.0, horizon=24), loader)
    with pytest.raises(ValueError, match="no batch"):
        torchnlp.evaluate_forecast(Constant(0.0), [])  # 0 / 0 before


def test_load_ett_quick(quick):
    dates, values, columns = torchnlp.load_ett()
    assert columns == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert values.shape == (17420, 7) and values.dtype == torch.float32
    assert dates[0] == "2016-07-01 00:00:00" and dates[-1] == "2018-06-26 19:00:00"
    assert values[0, -1].item() == pytest.approx(30.531)  # the first oil temperature


def test_load_ett_full_data_is_checked(full):
    _, values, _ = torchnlp.load_ett()  # read from the shared data folder, checksum verified
    assert values.shape == (17420, 7)


def test_standardize_constant_columns_and_bad_values():
    values = torch.randn(100, 3)
    values[:, 1] = 5.0  # e.g. a sensor that never moved in the training period
    scaled, mean, std = torchnlp.standardize(values, end=50)
    assert torch.isfinite(scaled).all() and std[1] == 1 and torch.equal(scaled[:, 1], torch.zeros(100))  # NaN before
    torch.testing.assert_close(scaled * std + mean, values)
    for bad, error, message in [
        ([[1.0, 2.0]] * 10, TypeError, r"values must be a \(N, C\) floating-point tensor"),
        (torch.arange(20).view(10, 2), TypeError, "floating-point tensor .* torch.int64"),
        (torch.randn(10), TypeError, r"one series: values\[:, None\]"),
    ]:
        with pytest.raises(error, match=message):
            torchnlp.standardize(bad, end=5)
    with pytest.raises(TypeError, match="end must be an int"):
        torchnlp.standardize(values, end="50")
    values[3, 0] = float("nan")
    with pytest.raises(ValueError, match=r"values hold NaN or inf in rows \[0, 50\)"):
        torchnlp.standardize(values, end=50)


def test_forecast_windows_name_what_does_not_fit():
    series = torch.zeros(14400, 2)
    with pytest.raises(ValueError, match=r"lookback \+ horizon \(96 \+ 5000 rows\) is longer than the 'val' split"):
        torchnlp.forecast_windows(series, "val", horizon=5000)  # said the series was too short
    with pytest.raises(ValueError, match=r"lookback \+ horizon \(9000 \+ 1 rows\) is longer than the 'train' split"):
        torchnlp.forecast_windows(series, "train", lookback=9000, horizon=1)
    for kwargs, message in [(dict(lookback="96"), "lookback must be an int"), (dict(horizon=2.5), "horizon must be")]:
        with pytest.raises(TypeError, match=message):
            torchnlp.forecast_windows(series, "val", **kwargs)
    for bad in (torch.zeros(14400), [[0.0]] * 14400):
        with pytest.raises(TypeError, match=r"series must be a \(N, C\) tensor"):
            torchnlp.forecast_windows(bad, "val")
    with pytest.raises(ValueError, match="split must be one of train, val, test, not None"):
        torchnlp.forecast_windows(series, None)


def test_evaluate_forecast_baselines_nan_and_bad_batches():
    class Last(torch.nn.Module):  # the naive baseline: repeat the last value; no parameter
        def forward(self, x):
            return x[:, -1:].repeat(1, 96, 1)

    series = torch.randn(14400, 2)
    loader = torch.utils.data.DataLoader(torchnlp.forecast_windows(series, "test", stride=96), batch_size=8)
    assert torchnlp.evaluate_forecast(Last(), loader)["windows"] == 30  # StopIteration before
    with pytest.raises(ValueError, match="the loss is nan .mean squared error. over 30 windows"):
        torchnlp.evaluate_forecast(Constant(float("nan")), loader)  # returned nan
    triples = [(torch.zeros(2, 96, 2), torch.zeros(2, 96, 2), torch.zeros(2))]
    with pytest.raises(TypeError, match=r"each batch of loader must be \(x, y\)"):
        torchnlp.evaluate_forecast(Last(), triples)


def test_evaluate_forecast_of_targets_without_values_raises():
    empty = [(torch.zeros(2, 96, 0), torch.zeros(2, 96, 0))]  # no column: the means would divide by 0
    with pytest.raises(ValueError, match="the targets y hold no value"):
        torchnlp.evaluate_forecast(Constant(0.0), empty)


@pytest.mark.parametrize("content", [b"", b"date,OT\n2016-07-01 00:00:00,abc\n"], ids=["empty", "not-a-number"])
def test_a_malformed_ett_file_raises_a_data_error(content, no_data, monkeypatch, tmp_path):
    folder = tmp_path / "data"
    (folder / "ett").mkdir(parents=True)
    (folder / "ett" / "ETTh1.csv").write_bytes(content)
    monkeypatch.setenv("TORCHNLP_DATA", str(folder))
    sha256 = hashlib.sha256(content).hexdigest()  # as if it were the published file: only the parsing can tell
    monkeypatch.setitem(torchnlp.DATA_FILES, "ett/ETTh1.csv", ("ETTh1", "http://127.0.0.1:9/none", sha256, 100))
    with pytest.raises(torchnlp.DataError, match="ett/ETTh1.csv"):  # ValueError from unpacking or float() before
        torchnlp.load_ett()
