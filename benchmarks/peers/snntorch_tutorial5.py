"""snnTorch tutorial 5 ("Training Spiking Neural Networks with snnTorch"), as the tutorial writes it.

784-1000-10: ``nn.Linear -> snn.Leaky(beta=0.95, spike_grad=surrogate.atan())`` twice, 25
steps, the image fed as a constant current at every step (the tutorial's loop projects
it again each step), loss = sum over steps of ``CrossEntropyLoss(mem_out[t], y)``, Adam
(lr 5e-4, betas (0.9, 0.999)), batch 128, PyTorch's default initialization, float32 on
the CPU (or on ``spec["device"]``, e.g. ``cuda``), under the PyTorch settings
``spec["torch"]`` (``torch_settings.py``: threads, OpenMP wait policy, ``torch.compile``;
none given = PyTorch's defaults, as the tutorial runs).

snnTorch's ``Leaky``: ``mem <- beta mem + I - S_prev * threshold`` with the reset spike
``S_prev`` detached, threshold 1, ATan surrogate ``1 / (1 + (pi x)^2)`` at ``alpha = 2``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

import snntorch as snn
from snntorch import surrogate

from peers import torch_settings


class Net(nn.Module):
    """The tutorial's network."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, beta: float, steps: int):
        super().__init__()
        self.steps = steps
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.lif1 = snn.Leaky(beta=beta, spike_grad=surrogate.atan())
        self.fc2 = nn.Linear(n_hidden, n_out)
        self.lif2 = snn.Leaky(beta=beta, spike_grad=surrogate.atan())

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        for _ in range(self.steps):
            cur1 = self.fc1(x)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


class Runner:
    """Training and evaluation of the tutorial network (see the module docstring)."""

    def __init__(self, spec: dict):
        self._start(spec, default_steps=25)
        self.module = Net(784, spec.get("hidden", 1000), 10, spec.get("beta", 0.95), self.steps).to(self.device)
        self.net = torch_settings.maybe_compile(self.module, self.setting)
        self.loss = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=spec.get("lr", 5e-4), betas=(0.9, 0.999))

    def _start(self, spec: dict, default_steps: int):
        """The PyTorch settings, seed, device and step count of ``spec`` (shared by the snnTorch runners)."""
        self.setting = spec.get("torch", {})
        torch_settings.after_import(self.setting)
        torch.manual_seed(spec.get("seed", 0))
        self.device = torch.device(spec.get("device", "cpu"))
        self.steps = spec.get("steps", default_steps)

    def step(self, x: np.ndarray, y: np.ndarray):
        data = torch.from_numpy(x).to(self.device)
        targets = torch.from_numpy(y.astype(np.int64)).to(self.device)
        self.net.train()
        spk_rec, mem_rec = self.net(data)
        loss_val = torch.zeros((1,), dtype=torch.float32, device=self.device)
        for step in range(self.steps):
            loss_val += self.loss(mem_rec[step], targets)
        self.optimizer.zero_grad()
        loss_val.backward()
        self.optimizer.step()
        return loss_val

    def sync(self, handle):
        return float(handle.item())

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> dict:
        """Accuracy by summed output membrane (bsnn's read-out) and by spike count (the tutorial's)."""
        by_mem = by_count = 0
        self.net.eval()
        with torch.no_grad():
            for i in range(0, len(y), batch):
                spk, mem = self.net(torch.from_numpy(x[i:i + batch]).to(self.device))
                target = torch.from_numpy(y[i:i + batch].astype(np.int64)).to(self.device)
                by_mem += int((mem.sum(0).argmax(1) == target).sum())
                by_count += int((spk.sum(0).argmax(1) == target).sum())
        return {"acc": by_mem / len(y), "acc_count": by_count / len(y)}

    def device_peak_mb(self):
        """Peak accelerator memory (MiB), or None on the CPU."""
        return torch.cuda.max_memory_allocated() / 2 ** 20 if self.device.type == "cuda" else None

    def describe(self) -> dict:
        return {"library": f"snntorch {snn.__version__}, torch {torch.__version__}",
                "threads": torch.get_num_threads(), "device": str(self.device),
                "settings": torch_settings.label(self.setting)}
