"""Datasets that need no files (digits, synthetic), ``load``, batching and subsets."""

import numpy as np
import pytest

from bsnn import data
from bsnn.data import Dataset, batches, num_batches, subset


# --- digits -------------------------------------------------------------------------------


def test_digits_split_is_fixed_and_stratified():
    ds = data.digits()
    assert ds.name == "digits" and ds.image_shape == (8, 8) and not ds.temporal and ds.n_classes == 10
    assert ds.x_train.shape == (1437, 64) and ds.x_test.shape == (360, 64)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(ds.y_test), [36, 36, 35, 37, 36, 37, 36, 36, 35, 36])
    again = data.load("digits")
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    # the same split as scikit-learn's own call
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    _, x_te, _, y_te = train_test_split(d.data / 16, d.target, test_size=0.2, stratify=d.target, random_state=0)
    np.testing.assert_allclose(ds.x_test, x_te, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, y_te)


# --- synthetic ----------------------------------------------------------------------------


def test_synthetic_tutorial_task():
    ds = data.synthetic()
    assert ds.temporal and ds.image_shape is None and ds.n_classes == 2
    assert ds.x_train.shape == (256, 200, 100) and ds.x_train.dtype == np.float32
    assert ds.steps == 200 and ds.n_features == 100
    assert set(np.unique(ds.x_train)) == {0.0, 1.0}
    # 5 Hz at 1 ms: p = 0.005 per step; 5.12e6 Bernoulli draws -> std of the mean 3.1e-5
    assert abs(ds.x_train.mean() - 0.005) < 2e-4
    assert set(np.unique(ds.y_train)) == {0, 1} and 90 < ds.y_train.sum() < 166
    assert ds.x_test is ds.x_train and ds.y_test is ds.y_train   # memorisation: test = train
    same, other = data.synthetic(seed=0), data.synthetic(seed=1)
    np.testing.assert_array_equal(same.x_train, ds.x_train)
    np.testing.assert_array_equal(same.y_train, ds.y_train)
    assert not np.array_equal(other.x_train, ds.x_train)


def test_synthetic_options_and_errors():
    ds = data.load("synthetic", n_samples=10, steps=20, n_inputs=7, rate_hz=100.0, dt_ms=2.0, n_classes=3)
    assert ds.x_train.shape == (10, 20, 7) and ds.n_classes == 3 and ds.y_train.max() < 3
    with pytest.raises(ValueError, match="n_samples must be a positive integer, got 0"):
        data.synthetic(n_samples=0)
    with pytest.raises(ValueError, match="task must be one of"):
        data.synthetic(task="xor")
    with pytest.raises(ValueError, match="at most 1000"):
        data.synthetic(rate_hz=2000.0)


def test_synthetic_rates_task_is_learnable():
    """Class-specific rate patterns: logistic regression on spike counts generalises."""
    from sklearn.linear_model import LogisticRegression
    ds = data.synthetic(task="rates", n_samples=200, n_test=100, seed=3)
    assert ds.x_test.shape == (100, 200, 100) and ds.x_test is not ds.x_train
    assert abs(ds.x_train.mean() - 0.005) < 3e-4                       # mean rate still 5 Hz
    np.testing.assert_array_equal(np.bincount(ds.y_train), [100, 100])
    clf = LogisticRegression(max_iter=1000).fit(ds.x_train.sum(1), ds.y_train)
    acc = clf.score(ds.x_test.sum(1), ds.y_test)
    print(f"synthetic rates task: logistic regression on counts, test accuracy {acc:.3f}")
    assert acc >= 0.9


def test_synthetic_reproduces_the_brainpy_state_tutorial():
    """Tutorial 4 of brainpy.state, verbatim model and optimiser, on ``synthetic()``: 100-4-2,
    Adam 3e-3, 200 full-batch steps; the tutorial reports CE 0.6931 -> 0.5738."""
    import time

    import brainpy
    import brainstate
    import braintools
    import brainunit as u
    import jax.numpy as jnp

    class SNN(brainstate.nn.Module):
        def __init__(self, n_in, n_rec, n_out):
            super().__init__()
            self.i2r = brainstate.nn.Sequential(
                brainstate.nn.Linear(n_in, n_rec, w_init=braintools.init.KaimingNormal(unit=u.mA),
                                     b_init=braintools.init.ZeroInit(unit=u.mA)),
                brainpy.state.Expon(n_rec, tau=5. * u.ms, g_initializer=braintools.init.Constant(0. * u.mA)))
            self.r = brainpy.state.LIF(n_rec, tau=20. * u.ms, V_rest=0. * u.mV, V_reset=0. * u.mV,
                                       V_th=1. * u.mV, spk_fun=braintools.surrogate.ReluGrad())
            self.r2o = brainstate.nn.Linear(n_rec, n_out, w_init=braintools.init.KaimingNormal())
            self.o = brainpy.state.Expon(n_out, tau=10. * u.ms, g_initializer=braintools.init.Constant(0.))

        def update(self, spike):
            return self.o(self.r2o(self.r(self.i2r(spike))))

    ds = data.synthetic(seed=0)
    x, y = jnp.asarray(ds.x_train.transpose(1, 0, 2)), jnp.asarray(ds.y_train)   # [T, B, N]
    brainstate.random.seed(0)
    with brainstate.environ.context(dt=1.0 * u.ms):
        net = SNN(100, 4, 2)
        opt = braintools.optim.Adam(lr=3e-3)
        opt.register_trainable_weights(net.states(brainstate.ParamState))

        def loss_fn():
            out = u.math.mean(brainstate.transform.for_loop(net.update, x), axis=0)
            return braintools.metric.softmax_cross_entropy_with_integer_labels(out, y).mean()

        @brainstate.transform.jit
        def step():
            brainstate.nn.init_all_states(net, batch_size=len(y))
            grads, loss = brainstate.transform.grad(loss_fn, net.states(brainstate.ParamState),
                                                    return_value=True)()
            opt.update(grads)
            return loss

        t0 = time.perf_counter()
        losses = [float(step()) for _ in range(200)]
    print(f"tutorial on synthetic(seed=0): CE {losses[0]:.4f} -> {losses[-1]:.4f} "
          f"in {time.perf_counter() - t0:.1f} s")
    assert abs(losses[0] - np.log(2)) < 1e-3
    assert losses[-1] <= 0.574


# --- load ---------------------------------------------------------------------------------


def test_load_names_and_errors():
    names = ["digits", "mnist", "fashion-mnist", "synthetic", "randman", "yin-yang", "cue-accumulation", "shd", "ssc"]
    assert data.DATASETS.names() == names
    with pytest.raises(ValueError, match=r"dataset must be one of \['digits', 'mnist', 'fashion-mnist', "
                                         r"'synthetic', 'randman', 'yin-yang', 'cue-accumulation', 'shd', 'ssc'\] or 'tonic:<NAME>', "
                                         r"got 'cifar'"):
        data.load("cifar")
    with pytest.raises(ValueError, match="dataset digits has no option 'n_samples'; its options are none"):
        data.load("digits", n_samples=3)
    with pytest.raises(ValueError, match="dataset synthetic has no option 'bogus'; its options are n_samples, steps"):
        data.load("synthetic", bogus=1)


def test_dataset_validation():
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(data.DataError, match=r"y_train must lie in \[0, 2\)"):
        data.base.check_dataset(Dataset("d", x, np.array([0, 1, 2], np.int32), x, np.zeros(3, np.int32), 2, None, False))
    with pytest.raises(data.DataError, match="x_test must be float32 with 2 dims"):
        data.base.check_dataset(Dataset("d", x, np.zeros(3, np.int32), x[None], np.zeros(3, np.int32), 2, None, False))


# --- batching -----------------------------------------------------------------------------


def _data(n=10, d=3):
    return np.arange(n * d, dtype=np.float32).reshape(n, d), np.arange(n, dtype=np.int32)


@pytest.mark.parametrize("n,b,drop,expected", [(10, 3, True, 3), (10, 3, False, 4), (9, 3, True, 3),
                                               (9, 3, False, 3), (2, 3, True, 0), (2, 3, False, 1),
                                               (0, 3, False, 0)])
def test_num_batches(n, b, drop, expected):
    assert num_batches(n, b, drop) == expected
    x, y = _data(n)
    assert len(batches(x, y, b, shuffle=False, drop_last=drop)) == expected == len(list(batches(
        x, y, b, shuffle=False, drop_last=drop)))


def test_evaluation_batches_cover_every_sample_in_order():
    x, y = _data(10)
    got = list(batches(x, y, 4, shuffle=False, drop_last=False))
    assert [len(yb) for _, yb in got] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in got]), y)
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in got]), x)


def test_training_batches_are_seeded_by_seed_and_epoch():
    x, y = _data(10)

    def order(seed, epoch):
        return np.concatenate([yb for _, yb in batches(x, y, 3, shuffle=True, seed=seed, epoch=epoch,
                                                       drop_last=True)])

    a = order(0, 0)
    assert len(a) == 9 and len(set(a)) == 9                       # drop_last: 9 distinct samples
    np.testing.assert_array_equal(a, order(0, 0))
    assert not np.array_equal(a, order(0, 1)) and not np.array_equal(a, order(1, 0))
    for xb, yb in batches(x, y, 3, shuffle=True, seed=0, drop_last=True):
        np.testing.assert_array_equal(xb, x[yb])                   # pairs stay aligned
    full = np.concatenate([yb for _, yb in batches(x, y, 3, shuffle=True, seed=0, drop_last=False)])
    assert sorted(full) == list(range(10))


def test_resume_inside_an_epoch():
    x, y = _data(10)
    all_b = [yb for _, yb in batches(x, y, 3, shuffle=True, seed=5, epoch=2, drop_last=True)]
    rest = [yb for _, yb in batches(x, y, 3, shuffle=True, seed=5, epoch=2, drop_last=True, start=1)]
    assert len(rest) == 2
    for a, b in zip(all_b[1:], rest):
        np.testing.assert_array_equal(a, b)


def test_temporal_samples_keep_their_shape():
    ds = data.synthetic(n_samples=7, steps=5, n_inputs=4)
    xb, yb = next(iter(batches(ds.x_train, ds.y_train, 4, shuffle=True, seed=0, drop_last=True)))
    assert xb.shape == (4, 5, 4) and yb.shape == (4,)


def test_batch_argument_errors():
    x, y = _data(10)
    with pytest.raises(ValueError, match="shuffle=True needs a seed"):
        batches(x, y, 3, shuffle=True, drop_last=True)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        batches(x, y, 0, shuffle=False, drop_last=False)
    with pytest.raises(ValueError, match=r"y must have shape \[N\] matching x"):
        batches(x, y[:5], 3, shuffle=False, drop_last=False)
    with pytest.raises(ValueError, match="start must be at most the 3 batches"):
        batches(x, y, 3, shuffle=False, drop_last=True, start=4)
    with pytest.raises(TypeError):
        batches(x, y, 3, shuffle=False)                             # drop_last must be explicit


# --- subset -------------------------------------------------------------------------------


def test_subset_is_stratified_and_seeded():
    ds = data.digits()
    small = subset(ds, n_train=100, n_test=50, seed=0)
    assert small.x_train.shape == (100, 64) and small.x_test.shape == (50, 64)
    full = np.bincount(ds.y_train, minlength=10) * 100 / len(ds.y_train)
    assert np.all(np.abs(np.bincount(small.y_train, minlength=10) - full) < 1)   # shares kept to +-1
    again = subset(ds, n_train=100, n_test=50, seed=0)
    np.testing.assert_array_equal(again.x_train, small.x_train)
    assert not np.array_equal(subset(ds, n_train=100, seed=1).y_train, small.y_train)
    rows = {r.tobytes() for r in ds.x_train}
    assert all(r.tobytes() in rows for r in small.x_train)         # samples, not copies of one
    assert subset(ds, n_test=10).x_train.shape == ds.x_train.shape  # None keeps a split
    tiny = subset(ds, n_train=3, seed=0)                            # fewer samples than classes
    assert len(tiny.y_train) == 3 and len(set(tiny.y_train)) == 3
    with pytest.raises(ValueError, match="n_train must be at most the 1437 available samples"):
        subset(ds, n_train=5000)
