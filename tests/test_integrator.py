"""The integrator option: forward Euler (``"euler"``) beside exponential Euler (``"exp"``).

Every path, method and kernel reads a layer's per-step decays, so the option is the decays
themselves (checked here) and the places that turn decays back into time constants; the
paths are checked under it in test_neurons (forced paths, the kernel), test_network
(schedules), test_eprop (e-prop = BPTT), test_eventprop (discrete adjoint), test_nir (NIR's
equations, exactly) and test_interop (snnTorch and Norse, spike for spike).
"""

import brainunit as u
import numpy as np
import pytest

import bsnn
from bsnn import neurons
from bsnn.config import TrainConfig, build_model


def test_decays_of_both_integrators():
    tau = np.array([0.0, 1.0, 4.0, 20.0])
    np.testing.assert_allclose(neurons.decay(1.0, tau, "exp"), [0.0, np.exp(-1), np.exp(-0.25), np.exp(-0.05)])
    np.testing.assert_allclose(neurons.decay(1.0, tau, "euler"), [0.0, 0.0, 0.75, 0.95])
    for integrator in neurons.INTEGRATORS:
        d = neurons.decay(0.5, tau[1:], integrator)
        np.testing.assert_allclose(1.0 / neurons.rate(d, 0.5, integrator), tau[1:], rtol=1e-12)
    with pytest.raises(ValueError, match=r"euler integrator needs dt <= tau_syn .* dt = 2 ms and tau_syn = 1 ms"):
        neurons.decay(2.0, tau, "euler", "tau_syn")
    with pytest.raises(ValueError, match=r"integrator must be one of 'exp', 'euler', got 'rk4'"):
        neurons.decay(1.0, tau, "rk4")


def test_every_leak_of_a_layer_follows_the_option():
    lif = bsnn.SpikingClassifier([3, 4, 2], tau_mem=10 * u.ms, tau_syn=4 * u.ms, integrator="euler")
    c = lif.layers[0].constants
    assert (c.alpha, c.beta, c.integrator) == (0.75, 0.9, "euler")
    alif = bsnn.SpikingClassifier([3, 4, 2], neuron="alif", tau_adapt=50 * u.ms, integrator="euler")
    assert alif.layers[0].constants.rho == pytest.approx(0.98)
    assert bsnn.SpikingClassifier([3, 4, 2], neuron="alif", tau_adapt=50 * u.ms).layers[0].constants.rho == \
        pytest.approx(np.exp(-1 / 50))
    with pytest.raises(ValueError, match="euler integrator needs dt <= tau_mem"):
        bsnn.SpikingClassifier([3, 2], tau_mem=0.5 * u.ms, integrator="euler")
    with pytest.raises(ValueError, match="integrator must be one of"):
        bsnn.SpikingClassifier([3, 2], integrator="Euler")


def test_learned_time_constants_read_back_under_euler():
    model = bsnn.SpikingClassifier([3, 4, 2], tau_mem=[np.array([10.0, 20, 30, 40]) * u.ms, 20 * u.ms], tau_syn=5 * u.ms,
                                   integrator="euler", learn=("tau_mem", "tau_syn"))
    learned = model.layers[0].learned()
    np.testing.assert_allclose(learned["tau_mem"], [10, 20, 30, 40], rtol=1e-5)
    np.testing.assert_allclose(learned["tau_syn"], 5.0, rtol=1e-5)


def test_the_option_travels_with_the_model(tmp_path):
    model = bsnn.SpikingClassifier([3, 4, 2], integrator="euler")
    assert "integrator='euler'" in repr(model)
    back = bsnn.load_model(bsnn.save_model(model, tmp_path / "m.bsnn"))
    assert back.integrator == "euler" and back.layers[1].constants.beta == 0.95
    assert build_model(TrainConfig(integrator="euler", hidden=[4]), 3, 2).layers[0].constants.integrator == "euler"
    assert build_model(TrainConfig(hidden=[4]), 3, 2).layers[0].constants.integrator == "exp"
    with pytest.raises(NotImplementedError, match=r"brainpy.state steps exponential Euler.*model.run"):
        model.init_state(2)
