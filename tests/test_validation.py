"""Bad input to the model, the methods and the train step raises errors that name the problem."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn
from bsnn import encode


@pytest.fixture
def model():
    return bsnn.SpikingClassifier([6, 5, 3], readout="spiking", w_scale=1.0)


@pytest.mark.parametrize("x, message", [
    (jnp.zeros((4, 6)), "input must be time-major [T, B, N] with N = 6, got shape (4, 6)"),
    (jnp.zeros((2, 4, 6, 1)), "input must be time-major [T, B, N] with N = 6, got shape (2, 4, 6, 1)"),
    (jnp.zeros((5, 4, 7)), "input has 7 features but the network expects 6"),
    (jnp.zeros((0, 4, 6)), "at least one step and one sample"),
    (jnp.full((5, 4, 6), jnp.nan), "input contains NaN or inf"),
    (jnp.full((5, 4, 6), jnp.inf), "input contains NaN or inf"),
    (jnp.zeros((5, 4, 6), jnp.int32), "input must be a float array"),
])
def test_model_run_rejects_bad_input(model, x, message):
    with pytest.raises(ValueError) as err:
        model.run(x)
    assert message in str(err.value)


@pytest.mark.parametrize("labels, message", [
    (jnp.array([0, 1, 3, 1]), "labels must lie in [0, 3), got values in [0, 3]"),
    (jnp.array([0, -1, 2, 1]), "labels must lie in [0, 3)"),
    (jnp.array([0, 1, 2]), "labels must be integer class ids of shape [B] = (4,), got shape (3,)"),
    (jnp.array([[0, 1, 2, 1]]), "of shape [B] = (4,), got shape (1, 4)"),
    (jnp.array([0.0, 1.0, 2.0, 1.0]), "labels must be integer class ids, got dtype float32"),
])
def test_methods_reject_bad_labels(model, labels, message):
    x = jnp.zeros((5, 4, 6))
    with pytest.raises(ValueError) as err:
        bsnn.BPTT("count-ce").loss_and_grads(model, x, labels)
    assert message in str(err.value)


def test_train_step_rejects_bad_batches(model):
    opt = bsnn.make_optimizer("adam", 1e-3)
    step = bsnn.TrainStep(model, bsnn.BPTT("count-ce"), opt, lambda x, k: encode.constant(x, 5))
    key = jax.random.PRNGKey(0)
    good_x, good_y = np.full((4, 6), 0.5, np.float32), np.array([0, 1, 2, 0])
    step(good_x, good_y, key)   # works
    bad = good_x.copy(); bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="inputs contain NaN or inf"):
        step(bad, good_y, key)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        step(good_x, np.array([0, 1, 2, 7]), key)
    with pytest.raises(ValueError, match=r"shape \[B\] = \(4,\), got shape \(5,\)"):
        step(good_x, np.array([0, 1, 2, 0, 1]), key)
    with pytest.raises(ValueError, match="input has 5 features but the network expects 6"):
        step(good_x[:, :5], good_y, key)


def test_optimizer_errors():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        bsnn.make_optimizer("lbfgs2", 1e-3)
    with pytest.raises(ValueError, match="lr must be a positive number, got -1"):
        bsnn.make_optimizer("adam", -1)
    with pytest.raises(ValueError, match="schedule must be one of"):
        bsnn.make_optimizer("adam", 1e-3, schedule="warm")


def test_method_registry_lists_available():
    with pytest.raises(ValueError) as err:
        bsnn.get_method("hebbian")
    assert "bptt" in str(err.value) and "hebbian" in str(err.value)


def test_layer_sizes_must_be_positive_integers():
    with pytest.raises(ValueError, match="n_out must be a positive integer, got 0"):
        bsnn.SpikingClassifier([4, 0, 2])
    with pytest.raises(ValueError, match="sizes must list at least an input and an output size"):
        bsnn.SpikingClassifier([4])
