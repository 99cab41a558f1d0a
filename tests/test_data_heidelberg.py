"""SHD / SSC (Cramer et al. 2020) on files written here in the datasets' own HDF5 layout: reading,
binning against a loop reference, the clear errors, archives checked by MD5, and the download."""

import hashlib
import io
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from bsnn import data  # noqa: E402
from bsnn.cli import main  # noqa: E402
from bsnn.data.base import DataError, DataNotFoundError  # noqa: E402
from bsnn.data.heidelberg import HeidelbergFile, HeidelbergSource, bin_spikes, heidelberg, read_spikes  # noqa: E402


def _samples(n, n_classes=20, seed=0, max_s=1.2):
    rng = np.random.default_rng(seed)
    times, units, labels = [], [], rng.integers(0, n_classes, n)
    for _ in range(n):
        k = int(rng.integers(0, 300))
        times.append(np.sort(rng.uniform(0, max_s, k)).astype(np.float32))
        units.append(rng.integers(0, 700, k).astype(np.uint16))
    return times, units, labels


def write_heidelberg(path, times, units, labels):
    """An HDF5 file laid out as shd_*.h5 / ssc_*.h5, written here with h5py directly (not by
    ``write_spikes``): variable-length spikes/times (s) and spikes/units per sample, labels, and
    the extra/ group."""
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float32))
        c = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ti, ci) in enumerate(zip(times, units)):
            t[i], c[i] = ti, ci
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))
        f.create_dataset("extra/speaker", data=np.zeros(len(labels), np.uint16))
        f.create_dataset("extra/keys", data=np.array([b"zero"] * 20))
    return path


def test_write_spikes_round_trips(tmp_path):
    times, units, labels = _samples(5, seed=9)
    path = data.write_spikes(tmp_path / "mine.h5", times, units, labels)
    t, c, y = read_spikes(path, 20)
    np.testing.assert_array_equal(y, labels)
    assert all(np.array_equal(a, b.astype(np.float64)) for a, b in zip(t, times))
    assert all(np.array_equal(a, b) for a, b in zip(c, units))
    assert [p.name for p in tmp_path.iterdir()] == ["mine.h5"]


def _reference_bins(times, units, width_ms, horizon_ms, binary, pool):
    n_bins = int(np.ceil(horizon_ms / width_ms))
    x = np.zeros((len(times), n_bins, 700 // pool), np.float32)
    for i in range(len(times)):
        for t, c in zip(times[i], units[i]):
            t_ms = float(t) * 1000
            if t_ms < horizon_ms:
                x[i, int(t_ms // width_ms), int(c) // pool] += 1
    return np.minimum(x, 1) if binary else x


def test_read_and_bin_against_a_loop_reference(tmp_path):
    times, units, labels = _samples(12)
    path = write_heidelberg(tmp_path / "shd_train.h5", times, units, labels)
    t, c, y = read_spikes(path, 20)
    np.testing.assert_array_equal(y, labels)
    assert all(np.array_equal(a, b) for a, b in zip(c, units))
    for width, horizon, binary, pool in [(10, 1000, True, 1), (14, 1400, False, 1), (25, 500, False, 5)]:
        x = bin_spikes(t, c, bin_width=f"{width}ms", max_time=f"{horizon}ms", binary=binary, channel_pool=pool)
        np.testing.assert_array_equal(x, _reference_bins(times, units, width, horizon, binary, pool))
    assert bin_spikes(t, c, bin_width="10ms", max_time="1s").shape == (12, 100, 700)


def test_load_finds_the_split_files_and_bins_them(tmp_path):
    root = tmp_path / "data"
    (root / "shd").mkdir(parents=True)
    write_heidelberg(root / "shd" / "shd_train.h5", *_samples(30, seed=1))
    write_heidelberg(root / "shd_test.h5", *_samples(10, seed=2))               # data_dir itself is searched too
    ds = data.load("shd", root, bin_width="20ms", max_time="500ms", channel_pool=7, download=False)
    assert ds.summary() == "shd: 30 train / 10 test samples, T=25, D=100, 20 classes"
    np.testing.assert_array_equal(np.bincount(ds.y_train, minlength=20), np.bincount(_samples(30, seed=1)[2],
                                                                                     minlength=20))
    assert ds.temporal and ds.x_train.dtype == np.float32 and ds.x_train.max() == 1
    ds = data.load("shd", root, n_train=5, n_test=3, download=False)
    assert ds.x_train.shape == (5, 100, 700) and ds.x_test.shape == (3, 100, 700)


def test_ssc_has_35_classes_and_three_splits(tmp_path):
    write_heidelberg(tmp_path / "ssc_train.h5", *_samples(8, 35, seed=3))
    write_heidelberg(tmp_path / "ssc_test.h5", *_samples(4, 35, seed=4))
    ds = data.load("ssc", tmp_path, download=False)
    assert ds.n_classes == 35 and len(ds.y_train) == 8
    with pytest.raises(DataNotFoundError, match="ssc_valid.h5"):
        data.heidelberg_files(data.SSC, tmp_path, splits=("valid",), download=False)


def _bad_file(path, kind):
    times, units, labels = _samples(3)
    if kind == "text":
        path.write_text("not hdf5")
        return path
    if kind == "no-units":
        with h5py.File(path, "w") as f:
            f.create_dataset("labels", data=np.zeros(3, np.uint16))
            f.create_dataset("spikes/times", (3,), dtype=h5py.vlen_dtype(np.float32))
        return path
    if kind == "channel":
        units[1][:1] = 700
    if kind == "label":
        labels[2] = 25
    if kind == "time":
        times[0][:1] = -1.0
    if kind == "lengths":
        units[2] = units[2][:-1]
    return write_heidelberg(path, times, units, labels)


@pytest.mark.parametrize("kind, message", [
    ("text", "not a readable HDF5 file"),
    ("no-units", "not a Heidelberg spike file: no dataset spikes/units"),
    ("channel", "sample 1 has channels outside \\[0, 700\\)"),
    ("label", "labels must lie in \\[0, 20\\), got \\[.*25\\]"),
    ("time", "sample 0 has negative or non-finite spike times"),
    ("lengths", "sample 2 has .* spike times but .* channels"),
])
def test_bad_files_are_named_with_what_is_wrong(tmp_path, kind, message):
    path = _bad_file(tmp_path / "shd_train.h5", kind)
    with pytest.raises(DataError, match=message) as err:
        read_spikes(path, 20)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("options, message", [
    (dict(bin_width=10), "bin_width must be a time \\(e.g. 20\\*u.ms\\), got 10"),
    (dict(max_time="1V"), "max_time must be a time \\(e.g. 20ms\\), got '1V', which is a voltage"),
    (dict(channel_pool=3), "channel_pool must be a positive divisor of 700"),
    (dict(n_train=0), "n_train must be a positive integer"),
    (dict(bins=3), "dataset shd has no option 'bins'; its options are bin_width, max_time, binary"),
])
def test_bad_settings_are_refused_before_reading(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        data.load("shd", tmp_path / "nowhere", download=False, **options)


def _zip_of(h5_path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(h5_path, h5_path.name)
    return buf.getvalue()


def _source(tmp_path):
    """A two-split source whose pins are those of archives made here (the real pins are SHD's)."""
    blobs = {}
    for split, seed in (("train", 5), ("test", 6)):
        h5 = write_heidelberg(_mk(tmp_path / f"made-{split}") / f"toy_{split}.h5", *_samples(6, seed=seed))
        blobs[f"toy_{split}.h5.zip"] = _zip_of(h5)
    files = tuple(HeidelbergFile(split, f"toy_{split}.h5", hashlib.md5(blobs[f"toy_{split}.h5.zip"]).hexdigest())
                  for split in ("train", "test"))
    return HeidelbergSource("toy", 20, files, ("https://mirror-a/", "https://mirror-b/")), blobs


def _mk(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_archives_are_md5_checked_unpacked_and_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BSNN_DATA", raising=False)
    source, blobs = _source(tmp_path)
    # a found archive with the pinned MD5 is unpacked into the cache
    user = _mk(tmp_path / "user")
    (user / "toy_train.h5.zip").write_bytes(blobs["toy_train.h5.zip"])
    asked = []

    def fetch(url):
        asked.append(url)
        if "mirror-a" in url:
            raise OSError("mirror a is down")
        yield blobs[url.rsplit("/", 1)[1]]

    ds = heidelberg(source, user, fetch=fetch)
    assert ds.x_train.shape == (6, 100, 700)
    assert asked == ["https://mirror-a/toy_test.h5.zip", "https://mirror-b/toy_test.h5.zip"]   # test was downloaded
    cached = sorted(p.name for p in (tmp_path / "cache" / "bsnn" / "toy").iterdir())
    assert cached == ["toy_test.h5", "toy_train.h5"]                   # archives unpacked, downloads removed
    # a found archive with another MD5 is refused by name
    (user / "toy_train.h5.zip").write_bytes(blobs["toy_test.h5.zip"])
    for f in (tmp_path / "cache" / "bsnn" / "toy").iterdir():
        f.unlink()
    with pytest.raises(DataError, match=f"{user / 'toy_train.h5.zip'}: checksum mismatch: MD5"):
        heidelberg(source, user, fetch=fetch)
    # nothing anywhere and every mirror failing: the files, the places searched and each failure
    (user / "toy_train.h5.zip").unlink()

    def offline(url):
        raise OSError("no network")
        yield b""

    with pytest.raises(DataNotFoundError) as err:
        heidelberg(source, user, fetch=offline)
    message = str(err.value)
    assert "toy: 2 file(s) not found" in message and "toy_train.h5 (or toy_train.h5.zip)" in message
    assert str(user) in message and "https://mirror-b/toy_test.h5.zip: OSError: no network" in message
    assert not list((tmp_path / "cache" / "bsnn" / "toy").iterdir())     # nothing half-written


def test_the_real_pins_are_the_published_md5s():
    assert data.SHD.file("train").md5 == "f3252aeb598ac776c1b526422d90eecb"
    assert data.SHD.file("test").md5 == "1503a5064faa34311c398fb0a1ed0a6f"
    assert [f.split for f in data.SSC.files] == ["train", "valid", "test"]
    assert data.SHD.mirrors[0] == "https://zenkelab.org/datasets/"


def test_cli_trains_on_shd_files_with_dataset_options(tmp_path, capsys):
    root = _mk(tmp_path / "shd")
    write_heidelberg(root / "shd_train.h5", *_samples(64, seed=7))
    write_heidelberg(root / "shd_test.h5", *_samples(16, seed=8))
    out = tmp_path / "run"
    assert main(["train", "--dataset", "shd", "--data-dir", str(root), "--dataset-option", "bin_width=50ms",
                 "--dataset-option", "max_time=500ms", "--dataset-option", "channel_pool=10", "--encoder", "events",
                 "--hidden", "8", "--recurrent", "--epochs", "1", "--batch-size", "16", "--out", str(out),
                 "--quiet"]) == 0
    assert "(shd, bptt)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["train", "--dataset", "shd", "--data-dir", str(root), "--dataset-option", "width=5ms",
              "--out", str(tmp_path / "refused"), "--quiet"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--dataset-option: dataset shd has no option 'width'; its options are bin_width" in err
    assert "Traceback" not in err and not (tmp_path / "refused").exists()
