"""Encoders: shapes, timing of spikes, seeding and bad input."""

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bsnn import encode

PIX = jnp.array([[0.0, 0.1, 0.25, 0.5, 1.0], [1.0, 0.9, 0.3, 0.0, 0.6]])


def test_constant_is_time_invariant_and_dense_matches():
    x = encode.constant(PIX, 7, gain=2.0)
    assert x.shape == (7, 2, 5) and x.ndim == 3
    dense = np.asarray(x.dense())
    assert dense.shape == (7, 2, 5)
    np.testing.assert_allclose(dense, np.broadcast_to(2 * np.asarray(PIX), (7, 2, 5)))


def test_poisson_rates_and_seeding():
    x = jnp.full((50, 40), 0.3)
    a = encode.poisson(x, 100, jax.random.PRNGKey(0))
    b = encode.poisson(x, 100, jax.random.PRNGKey(0))
    c = encode.poisson(x, 100, jax.random.PRNGKey(1))
    assert a.shape == (100, 50, 40) and a.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    assert set(np.unique(np.asarray(a))) <= {0.0, 1.0}
    assert abs(float(a.mean()) - 0.3) < 0.01
    hz = encode.poisson(x, 200, jax.random.PRNGKey(0), rate=100 * u.Hz, dt=1 * u.ms)
    assert abs(float(hz.mean()) - 0.3 * 0.1) < 0.005


def test_latency_brighter_is_earlier_and_dim_pixels_are_silent():
    T = 11
    s = np.asarray(encode.latency(PIX, T, threshold=0.25))
    assert s.shape == (T, 2, 5)
    counts = s.sum(0)
    np.testing.assert_array_equal(counts, (np.asarray(PIX) >= 0.25).astype(float))
    times = np.argmax(s, axis=0)
    assert times[0, 4] == 0                    # x = 1 spikes first
    assert times[0, 3] == round(0.5 * (T - 1))  # linear in intensity
    assert times[1, 0] == 0 and times[1, 1] < times[1, 4] < times[1, 2]
    s_norm = np.asarray(encode.latency(PIX, T, threshold=0.25, normalize=True))
    assert np.argmax(s_norm[:, 0, 2]) == T - 1  # darkest spiking pixel at the end



def test_latency_span_confines_the_code_to_the_first_steps():
    T, span = 40, 11
    s = np.asarray(encode.latency(PIX, T, threshold=0.25, span=span))
    times = np.argmax(s, axis=0)
    spiking = np.asarray(PIX) >= 0.25
    np.testing.assert_array_equal(s.sum(0), spiking.astype(float))
    np.testing.assert_array_equal(times[spiking], np.argmax(np.asarray(encode.latency(PIX, span, threshold=0.25)), 0)[spiking])
    assert times[spiking].max() <= span - 1 and not s[span:].any()
    with pytest.raises(ValueError, match="span must be an integer number of steps in \\[1, steps = 40\\], got 41"):
        encode.latency(PIX, T, span=41)

def test_binary_latency_two_times():
    s = np.asarray(encode.binary_latency(PIX, 40, 1 * u.ms, t_black=10 * u.ms, t_white=20 * u.ms))
    assert s.shape == (40, 2, 5)
    assert np.all(s.sum(0) == 1)
    times = np.argmax(s, axis=0)
    np.testing.assert_array_equal(times, np.where(np.asarray(PIX) < 0.5, 10, 20))


@pytest.mark.parametrize("fn", [
    lambda x: encode.poisson(x, 5, jax.random.PRNGKey(0)),
    lambda x: encode.latency(x, 5),
    lambda x: encode.binary_latency(x, 40, 1 * u.ms, t_black=10 * u.ms, t_white=20 * u.ms),
])
@pytest.mark.parametrize("bad, message", [
    (jnp.array([[0.5, jnp.nan]]), "NaN or inf"),
    (jnp.array([[0.5, 1.5]]), "must lie in [0, 1]"),
    (jnp.array([[-0.1, 0.5]]), "must lie in [0, 1]"),
    (jnp.ones((2, 3, 4)) * 0.5, "must be pixels of shape [B, N]"),
])
def test_bad_pixels_raise(fn, bad, message):
    with pytest.raises(ValueError) as err:
        fn(bad)
    assert message in str(err.value)


def test_bad_steps_and_times_raise():
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        encode.latency(PIX, 0)
    with pytest.raises(ValueError, match="t_white = 50 ms falls outside the window"):
        encode.binary_latency(PIX, 40, 1 * u.ms, t_black=10 * u.ms, t_white=50 * u.ms)
    with pytest.raises(ValueError, match="t_black must be a time"):
        encode.binary_latency(PIX, 40, 1 * u.ms, t_black=10, t_white=20 * u.ms)
    with pytest.raises(ValueError, match="give both rate"):
        encode.poisson(PIX, 5, jax.random.PRNGKey(0), rate=10 * u.Hz)
    with pytest.raises(ValueError, match="encoder must be one of"):
        encode.get_encoder("morse", 5, 1 * u.ms)


def test_encoders_run_inside_jit():
    f = jax.jit(lambda x, k: (encode.poisson(x, 6, k), encode.latency(x, 6), encode.constant(x, 6).value))
    p, l, c = f(PIX, jax.random.PRNGKey(0))
    assert p.shape == l.shape == (6, 2, 5) and c.shape == (2, 5)
