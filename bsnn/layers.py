"""Layers: ``brainstate.nn.Linear -> brainpy.state.Expon -> brainpy.state.LIF``, unit-checked.

``CubaLIF`` is a ``brainstate`` module made of the three ``brainstate``/``brainpy.state``
pieces, so it can be stepped like any brainpy network (``init_state`` then ``update``
each step, in physical units). For training, ``spec`` and ``weights()`` expose the same
layer as plain arrays for the fast pure forward pass of ``bsnn.network``; both give the
same spikes (tested). A ``LeakyReadout`` is a ``CubaLIF`` that never spikes: its membrane
is a leaky integral of its weighted, synaptically filtered input.

Composing your own network: any sequence of ``CubaLIF`` layers can be run with
``bsnn.network.simulate([l.spec for l in layers], [l.weights() for l in layers], x, dt=...)``.
"""

from __future__ import annotations

import math

import brainstate
import braintools
import brainunit as u
import jax.numpy as jnp
import numpy as np

from bsnn import dynamics, neurons, units
from bsnn.network import LayerSpec, LayerWeights
from bsnn.neurons.base import compact as _compact
from bsnn.surrogates import get_surrogate

__all__ = ["CubaLIF", "LeakyReadout"]

_NEVER = 1e9  # mV: a threshold no membrane reaches, for the non-spiking read-out's brainpy twin


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_projection(projection, n_in: int, n_out: int, recurrent: bool):
    """``None`` for a dense layer (also for a given ``Dense``), else the checked projection."""
    from bsnn.projections import Projection, is_dense
    if projection is None:
        return None
    if not isinstance(projection, Projection):
        raise TypeError(f"projection must be a bsnn.projections kind (Dense, Conv2d) or None, got "
                        f"{type(projection).__name__}")
    if (projection.n_in, projection.n_out) != (n_in, n_out):
        raise ValueError(f"the projection ({projection.describe()}) maps {projection.n_in} inputs to "
                         f"{projection.n_out} outputs, but the layer has n_in={n_in}, n_out={n_out}")
    if is_dense(projection):
        return None
    if recurrent:
        raise ValueError(f"recurrent weights are dense [N, N]; a layer with a {projection.kind} projection "
                         f"cannot be recurrent (use recurrent=False)")
    return projection


class CubaLIF(brainstate.nn.Module):
    """A current-based LIF layer: ``N_in`` inputs to ``N_out`` neurons.

    Args:
      n_in: input features.
      n_out: neurons.
      tau_mem: membrane time constant, a time (e.g. ``20*u.ms``).
      tau_syn: synaptic time constant, a time; ``0*u.ms`` for an instantaneous synapse.
      V_th: threshold, a voltage (e.g. ``1*u.mV``).
      V_reset: reset potential, a voltage.
      V_rest: resting potential, a voltage.
      reset: ``"soft"`` (subtract ``V_th - V_reset``) or ``"hard"`` (jump to ``V_reset``).
      surrogate: a name from ``bsnn.surrogates.SURROGATES`` or a ``braintools.surrogate`` instance.
      recurrent: add lateral weights ``W_rec`` from the layer's own last spikes.
      spiking: ``False`` makes a non-spiking leaky integrator (a read-out).
      detach_reset: no gradient flows through the reset term.
      dt: the simulation step, a time.
      w_scale: input weights are drawn ``N(w_mean, w_scale^2 / n_in)``.
      w_mean: mean of the input weights (a positive mean makes every neuron spike at first,
        as EventProp set-ups usually start).
      rec_scale: recurrent weights are drawn ``N(0, rec_scale^2 / n_out)``.
      bias: learn a bias current.
      learn: constants to train as per-neuron parameters, names from ``bsnn.dynamics.LEARNABLE``
        (``"tau_mem"``, ``"tau_syn"``, ``"V_th"``), kept in range by their parametrization.
      neuron: the neuron kind, a name from ``bsnn.neurons.KINDS`` (``"lif"``, ``"alif"``).
      integrator: how the time constants become per-step decays (``bsnn.neurons.INTEGRATORS``):
        ``"exp"`` (exponential Euler, ``exp(-dt/tau)``, as ``brainpy.state``) or ``"euler"``
        (forward Euler, ``1 - dt/tau``, as snnTorch, Norse and NIR's reference simulators; needs
        ``dt <= tau``). Every schedule, method and kernel reads the decays, so both train alike;
        only the stateful ``brainpy.state`` twin (``init_state`` / ``update``) is ``"exp"`` only.
      projection: what carries the input to the neurons (``bsnn.projections``): ``None`` (the
        default) for a dense ``x @ W + b``, or a ``bsnn.projections.Conv2d``, whose ``n_in`` and
        ``n_out`` (flat, channels last) must equal ``n_in`` and ``n_out``; its weights live in a
        ``brainstate.nn.Conv2d`` (``layer.linear``), drawn with variance ``w_scale^2 / fan_in``.
      **neuron_params: the kind's own parameters (``bsnn.neurons.get(neuron).parameters``,
        e.g. ``tau_adapt=200*u.ms, beta_adapt=0.2*u.mV`` for ``"alif"``); defaults otherwise.

    Raises:
      ValueError: a parameter of the wrong dimension or out of range, naming it.
    """

    def __init__(self, n_in: int, n_out: int, *, tau_mem=20 * u.ms, tau_syn=5 * u.ms,
                 V_th=1 * u.mV, V_reset=0 * u.mV, V_rest=0 * u.mV, reset: str = "soft",
                 surrogate="atan", recurrent: bool = False, spiking: bool = True,
                 detach_reset: bool = True, dt=1 * u.ms, w_scale: float = 1.0, w_mean: float = 0.0,
                 rec_scale: float = 0.5, bias: bool = True, name: str | None = None, neuron: str = "lif",
                 learn=(), integrator: str = "exp", projection=None, **neuron_params):
        super().__init__(name=name)
        self.kind = neurons.get(neuron)
        unknown = sorted(set(neuron_params) - set(self.kind.parameters))
        if unknown:
            allowed = ", ".join(self.kind.parameters) or "none"
            raise TypeError(f"CubaLIF got {unknown}, which the {self.kind.name!r} neuron does not take "
                            f"(its own parameters: {allowed})")
        self.n_in = _positive_int(n_in, "n_in")
        self.n_out = _positive_int(n_out, "n_out")
        dt_ms = units.to_mantissa(dt, "dt", units.TIME)
        tau_mem_ms = units.to_mantissa(tau_mem, "tau_mem", units.TIME, allow_array=True)
        tau_syn_ms = units.to_mantissa(tau_syn, "tau_syn", units.TIME, allow_array=True)
        v_th = units.to_mantissa(V_th, "V_th", units.VOLTAGE, allow_array=True)
        v_reset = units.to_mantissa(V_reset, "V_reset", units.VOLTAGE, allow_array=True)
        v_rest = units.to_mantissa(V_rest, "V_rest", units.VOLTAGE, allow_array=True)
        if dt_ms <= 0:
            raise ValueError(f"dt must be positive, got {dt}")
        if np.any(np.asarray(tau_mem_ms) <= 0):
            raise ValueError(f"tau_mem must be positive, got {tau_mem}")
        if np.any(np.asarray(tau_syn_ms) < 0):
            raise ValueError(f"tau_syn must be >= 0 (0 for an instantaneous synapse), got {tau_syn}")
        if np.any(np.asarray(v_th) <= np.asarray(v_reset)):
            raise ValueError(f"V_th must be above V_reset, got V_th={V_th}, V_reset={V_reset}")
        if reset not in ("soft", "hard"):
            raise ValueError(f"reset must be 'soft' or 'hard', got {reset!r}")
        if not (isinstance(w_scale, (int, float)) and math.isfinite(w_scale) and w_scale > 0):
            raise ValueError(f"w_scale must be a positive number, got {w_scale!r}")
        if not (isinstance(w_mean, (int, float)) and math.isfinite(w_mean)):
            raise ValueError(f"w_mean must be a finite number, got {w_mean!r}")
        self.tau_mem, self.tau_syn, self.dt = tau_mem, tau_syn, dt
        self.V_th, self.V_reset, self.V_rest = V_th, V_reset, V_rest
        self.reset, self.spiking, self.is_recurrent = reset, bool(spiking), bool(recurrent)
        self.surrogate = get_surrogate(surrogate)

        alpha = neurons.decay(dt_ms, tau_syn_ms, integrator, "tau_syn")
        beta = neurons.decay(dt_ms, tau_mem_ms, integrator, "tau_mem")
        core = dict(alpha=_compact(alpha), beta=_compact(beta), v_th=_compact(v_th),
                    v_reset=_compact(v_reset), v_rest=_compact(v_rest), spiking=self.spiking,
                    soft_reset=(reset == "soft"), detach_reset=bool(detach_reset), integrator=integrator)
        # the kind's own parameters: given (a quantity) or its default, as mantissas in ms / mV
        self.neuron_params, extra = {}, {}
        for pname, (kind_name, default) in self.kind.parameters.items():
            kind = getattr(units, kind_name)
            value = neuron_params.get(pname, default * (u.ms if kind is units.TIME else u.mV))
            self.neuron_params[pname] = value
            extra[pname] = units.to_mantissa(value, pname, kind, allow_array=True)
        self._constants = self.kind.constants(dt_ms, core, extra)
        self.dt_ms = dt_ms
        self.learn = dynamics.check(learn, spiking=self.spiking,
                                    tau_syn_zero=bool(np.any(np.asarray(tau_syn_ms) == 0)))
        self.dynamics = None
        if self.learn:
            raw = dynamics.initial(self._constants, self.learn, self.n_out)
            self.dynamics = brainstate.ParamState(
                {k: jnp.asarray(v, brainstate.environ.dftype()) for k, v in raw.items()})

        # brainstate / brainpy.state composition (weights live here as ParamStates). brainpy is
        # imported here, not at module level: importing it starts the XLA backend, which must
        # wait until jax.distributed.initialize has run in multi-process training.
        import brainpy
        self.projection = _check_projection(projection, self.n_in, self.n_out, recurrent)
        if self.projection is None:
            w0 = w_mean + brainstate.random.randn(self.n_in, self.n_out) * (w_scale / math.sqrt(self.n_in))
            self.linear = brainstate.nn.Linear(self.n_in, self.n_out, w_init=w0,
                                               b_init=jnp.zeros(self.n_out, brainstate.environ.dftype()) if bias else None)
        else:               # a convolution: brainstate's own module holds the kernel (HWIO) and bias
            proj = self.projection
            w0 = w_mean + brainstate.random.randn(*proj.weight_shape) * (w_scale / math.sqrt(proj.fan_in))
            self.linear = brainstate.nn.Conv2d(
                proj.in_shape, proj.out_channels, proj.kernel, stride=proj.stride, padding=proj.module_padding(),
                groups=proj.groups, w_init=w0,
                b_init=jnp.zeros(proj.bias_shape, brainstate.environ.dftype()) if bias else None)
        self.recurrent = None
        if self.is_recurrent:
            wr = brainstate.random.randn(self.n_out, self.n_out) * (rec_scale / math.sqrt(self.n_out))
            self.recurrent = brainstate.nn.Linear(self.n_out, self.n_out, w_init=wr, b_init=None)
        self.syn = None
        if np.any(np.asarray(tau_syn_ms) > 0):
            self.syn = brainpy.state.Expon(self.n_out, tau=tau_syn,
                                           g_initializer=braintools.init.Constant(0.0 * u.mA))
        self.neuron = None               # no brainpy.state twin (a kind without one, or forward Euler): pure path only
        if integrator == "exp":
            try:
                self.neuron = self.kind.brainpy_twin(
                    self.n_out, tau_mem=tau_mem, V_th=V_th if self.spiking else _NEVER * u.mV, V_reset=V_reset,
                    V_rest=V_rest, spk_fun=self.surrogate, spk_reset=reset, **self.neuron_params)
            except NotImplementedError:
                pass

    # ---- arrays for the fast pure path -------------------------------------------------
    @property
    def spec(self) -> LayerSpec:
        return LayerSpec(self.n_in, self.n_out, self._constants, self.surrogate, self.is_recurrent, self.kind.name,
                         self.learn, self.projection)

    @property
    def integrator(self) -> str:
        """``"exp"`` or ``"euler"``: how the layer's decays came from its time constants."""
        return self._constants.integrator

    @property
    def constants(self):
        """The layer's constants now: learned ones at their current (concrete) values."""
        if not self.learn:
            return self._constants
        return dynamics.apply(self._constants, self.dynamics.value)

    def learned(self) -> dict:
        """The learned constants in physical terms (ms, mV; NumPy ``[N]``), ``{}`` when none are."""
        if not self.learn:
            return {}
        return dynamics.values({k: np.asarray(v) for k, v in self.dynamics.value.items()}, self._constants,
                               self.dt_ms)

    def weights(self) -> LayerWeights:
        p = self.linear.weight.value
        w_rec = self.recurrent.weight.value["weight"] if self.recurrent is not None else None
        return LayerWeights(p["weight"], p.get("bias"), w_rec, self.dynamics.value if self.learn else None)

    # ---- stateful stepping with brainpy.state (physical units) -------------------------
    def _twin(self):
        if self.neuron is None:
            why = (f"the {self.kind.name!r} neuron has no brainpy.state twin to step" if self.integrator == "exp" else
                   "brainpy.state steps exponential Euler, and this layer integrates with forward Euler "
                   "(integrator='euler')")
            raise NotImplementedError(f"{why}; run the layer with bsnn.network.simulate (model.run) instead")
        return self.neuron

    def init_state(self, batch_size: int | None = None, **kwargs):
        self._twin()
        if self.syn is not None:
            self.syn.init_state(batch_size)
        self.neuron.init_state(batch_size)

    def update(self, x):
        """One step: ``x [B, N_in]`` -> spikes ``[B, N_out]`` (membrane in ``self.neuron.V``)."""
        with brainstate.environ.context(dt=self.dt):
            drive = self.linear(x) if self.projection is None else self.projection.twin(x, self.linear)
            if self.recurrent is not None:
                drive = drive + self.recurrent(self.neuron.get_spike())
            current = drive * u.mA          # R = 1 ohm: a drive of 1 holds the membrane at 1 mV
            if self.syn is not None:
                current = self.syn(current)
            spikes = self.neuron(current)
        return spikes if self.spiking else jnp.zeros_like(spikes)

    def membrane(self):
        """The membrane potential after the last ``update``, in mV (a plain array)."""
        return self.neuron.V.value.to_decimal(u.mV)

    def __repr__(self):
        kind = "CubaLIF" if self.spiking else "LeakyReadout"
        rec = ", recurrent" if self.is_recurrent else ""
        extra = "".join(f", {k}={v}" for k, v in self.neuron_params.items())
        neuron = f", neuron={self.kind.name!r}" if self.kind.name != "lif" else ""
        extra += f", learn={list(self.learn)}" if self.learn else ""
        extra += f", integrator={self.integrator!r}" if self.integrator != "exp" else ""
        extra += f", {self.projection.describe()}" if self.projection is not None else ""
        return (f"{kind}({self.n_in} -> {self.n_out}{neuron}, tau_mem={self.tau_mem}, tau_syn={self.tau_syn}, "
                f"V_th={self.V_th}, reset={self.reset}{extra}{rec})")


def LeakyReadout(n_in: int, n_out: int, **kwargs) -> CubaLIF:
    """A non-spiking ``CubaLIF`` (leaky integrator read-out) for membrane-based losses."""
    kwargs.pop("spiking", None)
    kwargs.pop("recurrent", None)
    return CubaLIF(n_in, n_out, spiking=False, **kwargs)
