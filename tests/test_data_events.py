"""Event binning on generated events, and the optional tonic adapter (with a stand-in tonic module)."""

import sys
import types

import numpy as np
import pytest

from bsnn import data
from bsnn.data import DataError, bin_events

DVS = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])   # tonic's layout
AUDIO = np.dtype([("t", np.float64), ("x", np.int16), ("p", np.int8)])                 # SHD-like


def random_events(rng, n, W, H, P, t_max):
    ev = np.zeros(n, DVS)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, P, n)
    ev["t"] = np.sort(rng.integers(0, t_max, n))
    return ev


def reference(events, W, H, P, edges):
    """Loop-by-loop reference: bin k holds events with edges[k] <= t < edges[k+1]."""
    frames = np.zeros((len(edges) - 1, P, H, W), np.float32)
    for e in events:
        for k in range(len(edges) - 1):
            if edges[k] <= e["t"] < edges[k + 1]:
                frames[k, e["p"], e["y"], e["x"]] += 1
    return frames.reshape(len(edges) - 1, -1)


def test_fixed_bin_width_matches_the_reference():
    rng = np.random.default_rng(0)
    ev = random_events(rng, 300, W=5, H=4, P=2, t_max=1000)
    got = bin_events(ev, (5, 4, 2), 8, bin_width=100)                # bins cover [0, 800): later events dropped
    assert got.shape == (8, 40) and got.dtype == np.float32
    np.testing.assert_array_equal(got, reference(ev, 5, 4, 2, np.arange(0, 801, 100)))
    assert got.sum() == (ev["t"] < 800).sum()
    shifted = bin_events(ev, (5, 4, 2), 8, bin_width=100, t_start=150)
    np.testing.assert_array_equal(shifted, reference(ev, 5, 4, 2, np.arange(150, 951, 100)))


def test_even_bins_span_to_the_last_event():
    rng = np.random.default_rng(1)
    ev = random_events(rng, 200, W=3, H=2, P=2, t_max=977)
    t_last = ev["t"].max()
    got = bin_events(ev, (3, 2, 2), 5)
    edges = np.linspace(0, t_last, 6)
    edges[-1] = t_last + 1                                            # the last event lands in the last bin
    np.testing.assert_array_equal(got, reference(ev, 3, 2, 2, edges))
    assert got.sum() == len(ev)


def test_neuron_index_is_tonics_flattened_p_h_w():
    ev = np.array([(2, 1, 0, 1), (0, 0, 5, 0)], DVS)
    frames = bin_events(ev, (3, 2, 2), 2, bin_width=5)
    assert frames[0, 1 * 6 + 1 * 3 + 2] == 1 and frames[1, 0] == 1 and frames.sum() == 2


def test_binary_spikes_and_single_channel_sensor():
    ev = np.zeros(4, AUDIO)
    ev["x"], ev["t"], ev["p"] = [3, 3, 3, 0], [0.0, 0.1, 0.2, 0.95], [0, 1, 0, 1]
    counts = bin_events(ev, (4, 1, 1), 2, bin_width=0.5)                 # p ignored for one channel
    np.testing.assert_array_equal(counts, [[0, 0, 0, 3], [1, 0, 0, 0]])
    np.testing.assert_array_equal(bin_events(ev, (4, 1, 1), 2, bin_width=0.5, binary=True),
                                  [[0, 0, 0, 1], [1, 0, 0, 0]])


def test_empty_and_single_time_events():
    assert bin_events(np.zeros(0, DVS), (2, 2, 2), 3).sum() == 0
    same_t = np.array([(0, 0, 7, 0), (1, 1, 7, 1)], DVS)
    assert bin_events(same_t, (2, 2, 2), 3, t_start=7)[0].sum() == 2


def test_event_errors_name_the_field():
    ev = np.array([(5, 0, 0, 0)], DVS)
    with pytest.raises(DataError, match=r"events field 'x' must lie in \[0, 4\), got \[5, 5\]"):
        bin_events(ev, (4, 1, 2), 2)
    with pytest.raises(DataError, match="events need a field 'y' for a sensor of size 3"):
        bin_events(np.zeros(1, AUDIO), (4, 3), 2)
    with pytest.raises(DataError, match="structured array with fields 'x' and 't'"):
        bin_events(np.zeros((3, 4)), (4,), 2)
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        bin_events(ev, (8, 1, 2), 0)
    with pytest.raises(ValueError, match="bin_width must be positive"):
        bin_events(ev, (8, 1, 2), 2, bin_width=0)


def test_tonic_missing_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "tonic", None)                   # import tonic -> ImportError
    with pytest.raises(ImportError, match="pip install tonic"):
        data.load("tonic:NMNIST")


def _stand_in_tonic(monkeypatch, root, rng, sensor, n_train, n_test) -> list:
    """A ``tonic`` module whose ``datasets.NMNIST`` serves random events; returns the splits it made."""
    made = []

    class FakeNMNIST:
        sensor_size = sensor
        classes = [str(i) for i in range(10)]

        def __init__(self, save_to, train=True):
            assert save_to == str(root)
            self.samples = [(random_events(rng, 50, *sensor, 300_000), i % 10)
                            for i in range(n_train if train else n_test)]
            made.append(self)

        def __len__(self):
            return len(self.samples)

        def __getitem__(self, i):
            return self.samples[i]

    fake = types.ModuleType("tonic")
    fake.datasets = types.SimpleNamespace(NMNIST=FakeNMNIST)
    monkeypatch.setitem(sys.modules, "tonic", fake)
    return made


def test_tonic_adapter_with_a_stand_in_module(monkeypatch, tmp_path):
    made = _stand_in_tonic(monkeypatch, tmp_path, np.random.default_rng(2), (6, 5, 2), 12, 5)
    ds = data.load("tonic:NMNIST", tmp_path, n_bins=10, bin_width=30_000, n_test=3)
    assert ds.name == "tonic:NMNIST" and ds.temporal and ds.n_classes == 10
    assert ds.x_train.shape == (12, 10, 60) and ds.x_test.shape == (3, 10, 60)
    assert ds.x_train.dtype == np.float32 and set(np.unique(ds.x_train)) <= {0.0, 1.0}
    np.testing.assert_array_equal(ds.y_train, np.arange(12) % 10)
    for split, x in ((made[0], ds.x_train), (made[1], ds.x_test)):
        direct = bin_events(split.samples[-1 if x is ds.x_train else 2][0], (6, 5, 2), 10,
                            bin_width=30_000, binary=True)
        np.testing.assert_array_equal(x[-1], direct)
    with pytest.raises(ValueError, match="tonic.datasets has no dataset 'DVSGesture'"):
        data.load("tonic:DVSGesture", tmp_path)


def test_tonic_datasets_from_the_command_line(monkeypatch, tmp_path, capsys):
    """``--dataset tonic:<NAME>``: without tonic a one-line install hint (exit 2, nothing written);
    with it (a stand-in module) the binned events train, the dataset's options passed on."""
    from bsnn.cli import main
    monkeypatch.setitem(sys.modules, "tonic", None)
    out = tmp_path / "run"
    assert main(["train", "--dataset", "tonic:NMNIST", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "pip install tonic" in err and "Traceback" not in err and not out.exists()
    _stand_in_tonic(monkeypatch, tmp_path, np.random.default_rng(3), (4, 3, 2), 20, 8)
    assert main(["train", "--dataset", "tonic:NMNIST", "--data-dir", str(tmp_path), "--dataset-option", "n_bins=5",
                 "--encoder", "events", "--hidden", "4", "--epochs", "1", "--batch-size", "4", "--out", str(out),
                 "--quiet"]) == 0
    assert "(tonic:NMNIST, bptt)" in capsys.readouterr().out
