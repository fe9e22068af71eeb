"""Time series: the ETTh1 data, standard windows, scaling and forecast metrics."""

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
    with pytest.raises(ValueError, match=r"end must lie in 2\.\.200"):
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
