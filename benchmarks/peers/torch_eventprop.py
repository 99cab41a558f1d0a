"""EventProp for a 784-10 first-spike-time classifier, written straightforwardly in PyTorch.

The setting and the math of the PyTorch reimplementation (lolemacs/pytorch-eventprop,
after Wunderlich & Pehle 2021, Sci. Rep. 11, 12829): one layer of LIF neurons
(tau_mem 20 ms, tau_syn 5 ms, threshold 1, reset to 0), each pixel one input spike at
10 ms (pixel >= 0.5) or 20 ms, T = 40 steps of dt = 1 ms, forward Euler on the grid::

    V <- V + dt/tau_m (I_prev - V);   I = (1 - dt/tau_s) I_prev + W x_t;   S = [V > 1];   V <- (1 - S) V

The output is each neuron's first spike step (T if silent). Backward, the adjoint over the
same grid in reverse with a jump at output spikes (``g = dL/dt_first``, applied at the
first spike: the loss depends on no other)::

    lV <- (1 - dt/tau_m) lV;   lV <- lV + S (lV + g [first]) / (I - 1);
    lI <- lI + dt/tau_s (lV - lI);   dL/dW -= lI^T x_t

The loss is the reimplementation's: ``CE(-t / (0.4 tau_s)) + 0.01 (exp(t_label / (2 tau_s)) - 1)``,
Adam 1e-3 with each gradient component clipped to 0.1 (on the CPU unless ``spec["device"]``),
and during training each output neuron that is silent for some sample of the batch gets +0.1
on all its weights. One change from the reimplementation: ``dL/dW`` is one ``[out, B] @ [B, in]`` matmul per step
instead of a ``[B, out, in]`` broadcast product (the same numbers, much cheaper).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from peers import torch_settings


class EventPropFunction(torch.autograd.Function):
    """``first-spike steps [B, out] = f(input spike times [B, in], W [out, in])`` with the adjoint above."""

    @staticmethod
    def forward(ctx, times, weight, layer):
        steps = layer.steps
        batch = times.shape[0]
        v = torch.zeros(batch, layer.n_out, device=times.device)
        i_prev = torch.zeros(batch, layer.n_out, device=times.device)
        currents = torch.zeros(steps, batch, layer.n_out, device=times.device)
        spikes = torch.zeros(steps, batch, layer.n_out, device=times.device)
        for k in range(steps):
            t = k * layer.dt
            v = v + (layer.dt / layer.tau_m) * (i_prev - v)
            i_prev = (1 - layer.dt / layer.tau_s) * i_prev + F.linear((times == t).float(), weight)
            s = (v > 1.0).float()
            currents[k], spikes[k] = i_prev, s
            v = (1 - s) * v
        order = torch.arange(steps, 0, -1, dtype=torch.float32, device=times.device)[:, None, None]
        first = torch.argmax(order * spikes, dim=0)                       # first spike step (0 if none)
        silent = spikes.sum(0) == 0
        first_mask = torch.zeros_like(spikes).scatter_(0, first[None], 1.0) * spikes
        ctx.layer = layer
        ctx.save_for_backward(times, currents, spikes, first_mask)
        t_first = first.float() * layer.dt
        t_first[silent] = layer.steps * layer.dt
        return t_first

    @staticmethod
    def backward(ctx, grad_t):
        layer = ctx.layer
        times, currents, spikes, first_mask = ctx.saved_tensors
        l_v = torch.zeros_like(grad_t)
        l_i = torch.zeros_like(grad_t)
        grad_w = torch.zeros(layer.n_out, layer.n_in, device=grad_t.device)
        for k in range(layer.steps - 1, -1, -1):
            t = k * layer.dt
            l_v = (1 - layer.dt / layer.tau_m) * l_v
            l_v = l_v + spikes[k] * (l_v + grad_t * first_mask[k]) / (currents[k] - 1 + 1e-10)
            l_i = l_i + (layer.dt / layer.tau_s) * (l_v - l_i)
            grad_w -= l_i.T @ (times == t).float()
        return None, grad_w, None


class SpikingLinear(torch.nn.Module):
    """One LIF layer read out by first-spike times."""

    def __init__(self, n_in: int, n_out: int, steps: int, dt: float, tau_m: float, tau_s: float,
                 weight: np.ndarray):
        super().__init__()
        self.n_in, self.n_out, self.steps, self.dt, self.tau_m, self.tau_s = n_in, n_out, steps, dt, tau_m, tau_s
        self.weight = torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(weight.T)))   # [out, in]

    def forward(self, times):
        return EventPropFunction.apply(times, self.weight, self)


class Runner:
    """Training and evaluation in the reimplementation's setting (see the module docstring)."""

    XI, ALPHA, BETA_REG, CLIP = 0.4, 0.01, 2.0, 0.1
    T_MIN, T_MAX = 10.0, 20.0

    def __init__(self, spec: dict):
        self.setting = spec.get("torch", {})
        torch_settings.after_import(self.setting)
        torch.manual_seed(spec.get("seed", 0))
        self.tau_s = 5.0
        self.device = torch.device(spec.get("device", "cpu"))
        self.layer = SpikingLinear(784, 10, spec.get("steps", 40), 1.0, 20.0, self.tau_s,
                                   spec["initial_weight"]).to(self.device)
        self.forward = torch_settings.maybe_compile(self.layer, self.setting)
        self.optimizer = torch.optim.Adam(self.layer.parameters(), lr=spec.get("lr", 1e-3))

    def encode(self, x: np.ndarray) -> torch.Tensor:
        return self.T_MIN + (self.T_MAX - self.T_MIN) * (torch.from_numpy(x).to(self.device) < 0.5).float()

    def step(self, x: np.ndarray, y: np.ndarray):
        target = torch.from_numpy(y.astype(np.int64)).to(self.device)
        t_first = self.forward(self.encode(x))
        loss = F.cross_entropy(-t_first / (self.XI * self.tau_s), target)
        t_label = t_first.gather(1, target.view(-1, 1))
        loss = loss + self.ALPHA * (torch.exp(t_label / (self.BETA_REG * self.tau_s)) - 1).mean()
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(self.layer.parameters(), self.CLIP)
        self.optimizer.step()
        with torch.no_grad():                            # silent output neurons get a push
            silent = (t_first >= self.layer.steps * self.layer.dt).any(0).float()
            self.layer.weight.add_(0.1 * silent[:, None])
        return loss

    def sync(self, handle):
        return float(handle.item())

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> dict:
        correct = 0
        with torch.no_grad():
            for i in range(0, len(y), batch):
                t_first = self.layer(self.encode(x[i:i + batch]))
                correct += int((t_first.argmin(1).cpu().numpy() == y[i:i + batch]).sum())
        return {"acc": correct / len(y)}

    def device_peak_mb(self):
        """Peak accelerator memory (MiB), or None on the CPU."""
        return torch.cuda.max_memory_allocated() / 2 ** 20 if self.device.type == "cuda" else None

    def describe(self) -> dict:
        return {"library": f"torch {torch.__version__}", "threads": torch.get_num_threads(),
                "device": str(self.device), "settings": torch_settings.label(self.setting)}
