"""Straightforward references of the LIF discretization for the tests (NumPy and plain JAX).

Written from the equations in ``bsnn/neurons/lif.py``'s docstring, independently of the library code.
"""

import jax
import jax.numpy as jnp
import numpy as np


def numpy_lif_layer(drive, alpha, beta, v_th, v_reset=0.0, v_rest=0.0, reset="soft", spiking=True,
                    w_rec=None):
    """drive: [T, B, N] (already projected, without recurrence). Returns spikes, v: [T, B, N]."""
    T, B, N = drive.shape
    i = np.zeros((B, N), np.float64)
    v = np.zeros((B, N), np.float64)
    s = np.zeros((B, N), np.float64)
    spikes, volts = np.zeros((T, B, N)), np.zeros((T, B, N))
    for t in range(T):
        d = drive[t] + (s @ w_rec if w_rec is not None else 0.0)
        i = alpha * i + d
        if spiking:
            if reset == "soft":
                v = v - (v_th - v_reset) * s
            else:
                v = np.where(s > 0, v_reset, v)
        v = beta * v + (1 - beta) * (v_rest + i)
        s = (v >= v_th).astype(np.float64) if spiking else np.zeros_like(v)
        spikes[t], volts[t] = s, v
    return spikes, volts


def numpy_network(x, layers):
    """x: [T, B, N_in]; layers: list of dicts with w, b, alpha, beta, v_th, reset, spiking, (w_rec)."""
    inp = np.asarray(x, np.float64)
    outs = []
    for p in layers:
        drive = inp @ p["w"] + p["b"]
        s, v = numpy_lif_layer(drive, p["alpha"], p["beta"], p["v_th"], reset=p.get("reset", "soft"),
                               spiking=p.get("spiking", True), w_rec=p.get("w_rec"))
        outs.append((s, v))
        inp = s
    return outs


@jax.custom_vjp
def sigmoid_spike(x):
    return (x >= 0).astype(x.dtype)


def _fwd(x):
    return sigmoid_spike(x), x


def _bwd(x, g):
    sg = jax.nn.sigmoid(4.0 * x)
    return (g * 4.0 * sg * (1 - sg),)


sigmoid_spike.defvjp(_fwd, _bwd)


def jax_reference_loss(ws, bs, x, labels, alpha, beta, v_th, reset="soft", readout_leaky=True):
    """A plain Python-loop LIF net in JAX with a sigmoid(4x) surrogate and detached reset;
    loss: sum over steps of CE of the output membrane."""
    T = x.shape[0]
    states = [(jnp.zeros((x.shape[1], w.shape[1])),) * 3 for w in ws]
    loss = 0.0
    for t in range(T):
        inp = x[t]
        new_states = []
        for k, (w, b, (i, v, s)) in enumerate(zip(ws, bs, states)):
            last = k == len(ws) - 1
            spiking = not (last and readout_leaky)
            i = alpha * i + inp @ w + b
            if spiking:
                sd = jax.lax.stop_gradient(s)
                v = v - (v_th - 0.0) * sd if reset == "soft" else v - (jax.lax.stop_gradient(v) - 0.0) * sd
            v = beta * v + (1 - beta) * i
            s = sigmoid_spike((v - v_th) / v_th) if spiking else jnp.zeros_like(v)
            new_states.append((i, v, s))
            inp = s
        states = new_states
        logp = jax.nn.log_softmax(states[-1][1], -1)
        loss = loss - jnp.take_along_axis(logp, labels[:, None], 1).mean()
    return loss


def assert_pure_path_matches_brainpy(model, x, min_hidden_spikes: int = 5):
    """``model.run(x)`` against stepping the model's brainpy.state composition (``update``) step by step."""
    import brainstate
    out = model.run(x, record=True)
    model.init_state(x.shape[1])
    update = brainstate.transform.jit(model.update)      # the same brainpy.state step, traced once
    spikes, volts = [], []
    for t in range(x.shape[0]):
        step = update(x[t])
        spikes.append(step.spikes)
        volts.append(step.v)
    assert float(out.layer_spikes[0].sum()) > min_hidden_spikes
    np.testing.assert_array_equal(np.asarray(jnp.stack(spikes)), np.asarray(out.spikes))
    np.testing.assert_allclose(np.asarray(jnp.stack(volts)), np.asarray(out.v), atol=1e-4)


def layer_grads(model, grads):
    """``[(w, b, w_rec)]`` per layer, as NumPy arrays, from a ``ParamState``-keyed gradient dict."""
    import brainstate
    keys = {id(s): k for k, s in model.states(brainstate.ParamState).items()}
    out = []
    for layer in model.layers:
        lin = grads[keys[id(layer.linear.weight)]]
        rec = grads[keys[id(layer.recurrent.weight)]]["weight"] if layer.recurrent is not None else None
        out.append(tuple(None if a is None else np.asarray(a) for a in (lin["weight"], lin.get("bias"), rec)))
    return out
