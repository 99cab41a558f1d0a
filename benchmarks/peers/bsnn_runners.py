"""The bsnn side of each comparison, behind the runner interface of ``benchmarks/peers``.

``spec["kind"]`` picks the workload:

* ``tutorial5``: exactly ``gallery/surrogate_mnist.py``'s configuration (snnTorch tutorial 5:
  784-1000-10, 25 steps, constant current, ATan, membrane CE summed over steps, Adam
  ``5e-4 c`` with ``c = 1 / (1 - beta) = 20`` for bsnn's normalized LIF, batch 128), built
  from the same ``TrainConfig`` by ``bsnn.config``'s builders and trained with
  ``bsnn.TrainStep``. ``spec["method"]``: ``bptt`` (hoisted, the default schedule),
  ``bptt-one-loop`` (``hoist=False``: both layers in one loop, the constant input projected
  once), ``bptt-checkpoint`` or ``eprop`` (with the layers' ATan surrogate).
* ``tutorial6``: exactly ``gallery/conv_mnist.py``'s default configuration (snnTorch tutorial
  6: 12C5-MP2-64C5-MP2-10, 50 steps, constant current, beta 0.5, no synaptic filter, soft
  reset, fast-sigmoid surrogate (slope 25), spiking read-out, MSE of spike counts against 40
  / 10 spikes, Adam ``1e-2 c`` with ``c = 1 / (1 - beta) = 2``, initial spread times ``c``,
  batch 128), built by ``bsnn.config``'s builders for 28 x 28 images and trained with
  ``bsnn.TrainStep`` (the default hoisted BPTT schedule; ``spec["method"]`` ``bptt`` only).
  Where it differs from ``peers/snntorch_tutorial6.py`` (from bsnn's LIF and initializer, as in
  ``tutorial5``): the soft reset is subtracted before the decay, ``V <- beta (V - S V_th) + (1 -
  beta) I`` (a reset of ``beta V_th`` where snnTorch's ``Leaky`` subtracts ``V_th``: half of it
  at beta 0.5); weights are drawn from a normal of PyTorch's spread (times ``c``) and biases
  start at zero (PyTorch: uniform weights and biases); the loss is not divided by T (snnTorch's
  ``mse_count_loss`` is; Adam is nearly invariant to the factor).
* ``eventprop``: 784-10, tau_mem 20 ms, tau_syn 5 ms, no bias, binary latency input (bright
  pixels at 10 ms, dark at 20 ms), T = 40 at dt = 1 ms, ``bsnn.methods.eventprop`` with the
  PyTorch reimplementation's first-spike CE constants (``tau0 = 0.4 tau_syn = 2 ms``,
  ``tau1 = 2 tau_syn = 10 ms``, ``alpha = 0.01``), Adam 1e-3; initial weights
  ``N(0.1, 0.1)`` from ``numpy.random.default_rng(seed)``, shared with the PyTorch peer.
* ``online``: 784-256-10 (tau_mem 20 ms, tau_syn 5 ms, SuperSpike, leaky read-out,
  ``w_scale`` 3), constant current for ``spec["steps"]`` steps, membrane CE summed over
  steps, Adam 5e-3; ``spec["method"]`` ``eprop`` (``bsnn.get_method("eprop")``), ``bptt`` or
  ``bptt-checkpoint``.
"""

from __future__ import annotations

import math

import numpy as np

BETA = 0.95
C = 1.0 / (1.0 - BETA)


def tutorial5_config(spec: dict):
    """The ``TrainConfig`` of ``gallery/surrogate_mnist.py`` (hidden and steps may be overridden)."""
    from bsnn.config import TrainConfig
    return TrainConfig(dataset="mnist", hidden=[spec.get("hidden", 1000)], steps=spec.get("steps", 25), dt="1ms",
                       tau_mem=f"{-1.0 / math.log(BETA):.6f}ms", tau_syn="0ms", threshold="1mV", reset="soft",
                       surrogate="atan", readout="spiking", encoder="current", loss="membrane-sum-ce",
                       optimizer="adam", lr=5e-4 * C, schedule="constant", batch_size=spec.get("batch", 128),
                       epochs=1, w_scale=C / math.sqrt(3.0), seed=spec.get("seed", 0), quiet=True)


def tutorial6_config(spec: dict):
    """The ``TrainConfig`` of ``gallery/conv_mnist.py``'s default run (steps may be overridden)."""
    from bsnn.config import TrainConfig
    beta6 = 0.5
    c6 = 1.0 / (1.0 - beta6)
    return TrainConfig(dataset="mnist", arch="12c5-mp2-64c5-mp2-10", steps=spec.get("steps", 50), dt="1ms",
                       tau_mem=f"{-1.0 / math.log(beta6):.6f}ms", tau_syn="0ms", threshold="1mV", reset="soft",
                       surrogate="fast_sigmoid", readout="spiking", encoder="current", loss="count-mse",
                       loss_options={"on": 40.0, "off": 10.0}, optimizer="adam", lr=1e-2 * c6, schedule="constant",
                       batch_size=spec.get("batch", 128), epochs=1, w_scale=c6 / math.sqrt(3.0),
                       seed=spec.get("seed", 0), quiet=True)


class Runner:
    """bsnn training and evaluation of one workload (see the module docstring)."""

    def __init__(self, spec: dict):
        import brainstate
        import brainunit as u
        import jax

        import bsnn
        from bsnn import encode
        from bsnn.config import build_encoder, build_method, build_model, build_optimizer

        self.spec, self.kind = spec, spec["kind"]
        method = spec.get("method", "bptt")
        self.key = jax.random.PRNGKey(spec.get("seed", 0))
        brainstate.random.seed(spec.get("seed", 0))
        if self.kind == "tutorial5":
            cfg = tutorial5_config(spec)
            if method == "bptt-one-loop":
                cfg.method_options = {"hoist": False}
            elif method == "bptt-checkpoint":
                cfg.method_options = {"remat": True}
            elif method == "eprop":                       # the layers' own surrogate, as BPTT uses
                cfg.method, cfg.method_options = "eprop", {"surrogate": None}
            elif method != "bptt":
                raise ValueError(f"spec['method'] must be bptt, bptt-one-loop, bptt-checkpoint or eprop, "
                                 f"got {method!r}")
            self.model = build_model(cfg, 784, 10)
            self.method, self.optimizer, self.encoder = build_method(cfg), build_optimizer(cfg), build_encoder(cfg)
        elif self.kind == "tutorial6":
            if method != "bptt":
                raise ValueError(f"spec['method'] of tutorial6 must be bptt, got {method!r}")
            cfg = tutorial6_config(spec)
            self.model = build_model(cfg, 784, 10, (28, 28))
            self.method, self.optimizer, self.encoder = build_method(cfg), build_optimizer(cfg), build_encoder(cfg)
        elif self.kind == "eventprop":
            from bsnn.methods.eventprop import EventProp
            steps = spec.get("steps", 40)
            self.model = bsnn.SpikingClassifier([784, 10], tau_mem=20 * u.ms, tau_syn=5 * u.ms, V_th=1 * u.mV,
                                                dt=1 * u.ms, readout="spiking", bias=False, w_scale=1.0)
            self.model.layers[0].linear.weight.value = {"weight": jax.numpy.asarray(initial_eventprop_weights(spec))}
            self.method = EventProp("first-spike-ce", tau0=2.0, tau1=10.0, alpha=1e-2)
            self.optimizer = bsnn.make_optimizer("adam", spec.get("lr", 1e-3))
            self.encoder = lambda p, k: encode.binary_latency(p, steps, 1 * u.ms, t_black=20 * u.ms,  # noqa: E731
                                                              t_white=10 * u.ms)
        elif self.kind == "online":
            steps = spec["steps"]
            self.model = bsnn.SpikingClassifier([784, spec.get("hidden", 256), 10], tau_mem=20 * u.ms,
                                                tau_syn=5 * u.ms, surrogate="superspike", readout="leaky",
                                                w_scale=3.0)
            self.method = (bsnn.get_method("eprop", loss="membrane-sum-ce") if method == "eprop"
                           else bsnn.BPTT("membrane-sum-ce", remat=method == "bptt-checkpoint"))
            self.optimizer = bsnn.make_optimizer("adam", spec.get("lr", 5e-3))
            self.encoder = lambda p, k: encode.constant(p, steps)  # noqa: E731
        else:
            raise ValueError(f"spec['kind'] must be 'tutorial5', 'tutorial6', 'eventprop' or 'online', "
                             f"got {self.kind!r}")
        self.optimizer.register_trainable_weights(self.model.states(brainstate.ParamState))
        self.train_step = bsnn.TrainStep(self.model, self.method, self.optimizer, self.encoder)
        self._predict = brainstate.transform.jit(self._predict_step)

    def _predict_step(self, pixels):
        import jax.numpy as jnp
        x = self.encoder(pixels, self.key)
        if self.kind == "eventprop":
            out = self.method.run(self.model, self.model.weights(), x)
            return self.method.loss.predict(out), self.method.loss.predict(out)
        out = self.model.run(x)
        return self.method.loss.predict(out), jnp.argmax(out.spikes.sum(0), -1)

    def step(self, x: np.ndarray, y: np.ndarray):
        return self.train_step(x, y, self.key)

    def sync(self, handle):
        return float(handle.loss.block_until_ready())

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> dict:
        """Accuracy by the loss's read-out (``acc``) and by output spike count (``acc_count``)."""
        import jax.numpy as jnp
        by_loss = by_count = 0
        for i in range(0, len(y), batch):
            pl, pc = self._predict(jnp.asarray(x[i:i + batch]))
            by_loss += int(np.sum(np.asarray(pl) == y[i:i + batch]))
            by_count += int(np.sum(np.asarray(pc) == y[i:i + batch]))
        result = {"acc": by_loss / len(y)}
        if self.kind == "tutorial5":
            result["acc_count"] = by_count / len(y)
        return result

    def lowered(self, x, y):
        """The compiled train step (for XLA's cost and memory analyses)."""
        import jax.numpy as jnp
        return self.train_step._compiled.lower(jnp.asarray(x), jnp.asarray(y), self.key).compile()

    def device_peak_mb(self):
        return jax_device_peak_mb()

    def describe(self) -> dict:
        import jax

        import bsnn
        return {"library": f"bsnn {bsnn.__version__}, jax {jax.__version__}",
                "device": jax.default_backend(), "method": repr(self.method)}


def initial_eventprop_weights(spec: dict) -> np.ndarray:
    """``[784, 10]`` float32 ``N(0.1, 0.1)`` (the reimplementation's init), seeded by ``spec['seed']``."""
    rng = np.random.default_rng(spec.get("seed", 0))
    return rng.normal(0.1, 0.1, (784, 10)).astype(np.float32)


def jax_device_peak_mb():
    """Peak memory of the first JAX device (MiB), or None where the backend does not report it (CPU)."""
    import jax
    stats = jax.devices()[0].memory_stats()
    return stats["peak_bytes_in_use"] / 2 ** 20 if stats and "peak_bytes_in_use" in stats else None
