"""Units at the edge: wrong dimensions and bare numbers raise naming the parameter."""

import brainunit as u
import numpy as np
import pytest

import bsnn
from bsnn import units


@pytest.mark.parametrize("kwargs, message", [
    (dict(tau_mem=20 * u.mV), "tau_mem must be a time (e.g. 20*u.ms), got 20 mV"),
    (dict(tau_mem=20.0), "tau_mem must be a time (e.g. 20*u.ms), got 20.0 (a bare number; attach a unit)"),
    (dict(tau_syn=5 * u.mV), "tau_syn must be a time"),
    (dict(V_th=1 * u.ms), "V_th must be a voltage (e.g. 1*u.mV), got 1 ms"),
    (dict(V_th=1.0), "V_th must be a voltage (e.g. 1*u.mV), got 1.0 (a bare number"),
    (dict(V_reset=0.0), "V_reset must be a voltage"),
    (dict(dt=1.0), "dt must be a time (e.g. 20*u.ms), got 1.0"),
    (dict(tau_mem=-5 * u.ms), "tau_mem must be positive"),
    (dict(tau_syn=-1 * u.ms), "tau_syn must be >= 0"),
    (dict(V_th=0 * u.mV), "V_th must be above V_reset"),
    (dict(reset="zero"), "reset must be 'soft' or 'hard', got 'zero'"),
    (dict(surrogate="nope"), "surrogate must be one of"),
    (dict(readout="softmax"), "readout must be 'spiking' or 'leaky'"),
    (dict(tau_mem=[20 * u.ms] * 3), "tau_mem has 3 values but the network has 2 layers"),
])
def test_bad_parameters_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        bsnn.SpikingClassifier([4, 3, 2], **kwargs)
    assert message in str(err.value)


def test_per_layer_values_and_other_units():
    model = bsnn.SpikingClassifier([4, 3, 2], tau_mem=[0.02 * u.second, 10 * u.ms],
                                   V_th=[1 * u.mV, 0.002 * u.volt], reset=["soft", "hard"], readout="spiking", w_scale=1.0)
    c0, c1 = model.layers[0].constants, model.layers[1].constants
    assert np.isclose(c0.beta, np.exp(-1 / 20)) and np.isclose(c1.beta, np.exp(-1 / 10))
    assert np.isclose(c0.v_th, 1.0) and np.isclose(c1.v_th, 2.0)
    assert c0.soft_reset and not c1.soft_reset


def test_per_neuron_time_constants():
    tau = np.array([10.0, 20.0, 40.0]) * u.ms
    layer = bsnn.CubaLIF(4, 3, tau_mem=tau)
    np.testing.assert_allclose(np.asarray(layer.constants.beta), np.exp(-1 / np.array([10, 20, 40])), rtol=1e-6)


@pytest.mark.parametrize("text, kind, value", [
    ("20ms", units.TIME, 20 * u.ms), ("20 ms", units.TIME, 20 * u.ms), ("0.5*s", units.TIME, 0.5 * u.second),
    ("1mV", units.VOLTAGE, 1 * u.mV), ("1e-3V", units.VOLTAGE, 1 * u.mV), ("100Hz", units.FREQUENCY, 100 * u.Hz),
])
def test_parse_quantity(text, kind, value):
    q = units.parse_quantity(text, "--flag", kind)
    assert np.isclose(q.to_decimal(kind.unit), value.to_decimal(kind.unit))


@pytest.mark.parametrize("text, message", [
    ("20mV", "--tau-mem must be a time (e.g. 20ms), got '20mV', which is a voltage"),
    ("20", "--tau-mem must be a time with a unit (s, ms, us)"),
    ("fast", "--tau-mem must be a time with a unit"),
])
def test_parse_quantity_errors_name_the_flag(text, message):
    with pytest.raises(ValueError) as err:
        units.parse_quantity(text, "--tau-mem", units.TIME)
    assert message in str(err.value)


def test_array_checks_still_recognize_an_imported_library(monkeypatch):
    """bsnn's array checks for brainunit look in sys.modules (see test_neurons' global-state test)."""
    import sys
    import types
    from saiunit import _backend
    fake = types.ModuleType("torch")
    fake.Tensor = type("Tensor", (), {})
    monkeypatch.setitem(sys.modules, "torch", fake)
    assert _backend.is_torch_array(fake.Tensor()) is True
    assert _backend.is_torch_array(np.zeros(2)) is False
