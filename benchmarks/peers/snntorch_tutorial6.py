"""snnTorch tutorial 6 ("Surrogate Gradient Descent in a Convolutional SNN"), as the tutorial writes it.

12C5-MP2-64C5-MP2-10: ``nn.Conv2d(1, 12, 5) -> F.max_pool2d(2) -> snn.Leaky``,
``nn.Conv2d(12, 64, 5) -> F.max_pool2d(2) -> snn.Leaky``, flatten, ``nn.Linear(64*4*4, 10) ->
snn.Leaky``, every ``Leaky`` with ``beta=0.5, spike_grad=surrogate.fast_sigmoid(slope=25)``;
50 steps, the image ``[B, 1, 28, 28]`` fed as a constant current at every step (the
tutorial's loop convolves it again each step), loss
``snntorch.functional.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)`` on the output
spikes ``[T, B, 10]`` (MSE of spike counts against 40 / 10, divided by the 50 steps), Adam
(lr 1e-2, betas (0.9, 0.999)), batch 128, PyTorch's default initialization, float32 on the
CPU (or on ``spec["device"]``, e.g. ``cuda``), under the PyTorch settings ``spec["torch"]``
(``torch_settings.py``: threads, OpenMP wait policy, ``torch.compile``; none given =
PyTorch's defaults, as the tutorial runs). Accuracy: the argmax of the output spike counts
(the tutorial's ``SF.accuracy_rate``).

snnTorch's ``Leaky``: ``mem <- beta mem + I - S_prev * threshold`` with the reset spike
``S_prev`` detached, threshold 1, fast-sigmoid surrogate ``1 / (slope |x| + 1)^2``.
The tutorial's loop (``forward_pass``) steps an ``nn.Sequential`` of ``init_hidden`` neurons;
this is the same network written with explicit ``init_leaky()`` states, as the tutorial's
``Net`` class writes it, stepped for 50 steps inside ``forward``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import snntorch as snn
import snntorch.functional as SF
from snntorch import surrogate

from peers import snntorch_tutorial5 as tutorial5
from peers import torch_settings


class Net(nn.Module):
    """The tutorial's network."""

    def __init__(self, beta: float, steps: int):
        super().__init__()
        self.steps = steps
        spike_grad = surrogate.fast_sigmoid(slope=25)
        self.conv1 = nn.Conv2d(1, 12, 5)
        self.lif1 = snn.Leaky(beta=beta, spike_grad=spike_grad)
        self.conv2 = nn.Conv2d(12, 64, 5)
        self.lif2 = snn.Leaky(beta=beta, spike_grad=spike_grad)
        self.fc1 = nn.Linear(64 * 4 * 4, 10)
        self.lif3 = snn.Leaky(beta=beta, spike_grad=spike_grad)

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        mem3 = self.lif3.init_leaky()
        spk3_rec, mem3_rec = [], []
        for _ in range(self.steps):
            cur1 = F.max_pool2d(self.conv1(x), 2)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = F.max_pool2d(self.conv2(spk1), 2)
            spk2, mem2 = self.lif2(cur2, mem2)
            cur3 = self.fc1(spk2.view(spk2.shape[0], -1))
            spk3, mem3 = self.lif3(cur3, mem3)
            spk3_rec.append(spk3)
            mem3_rec.append(mem3)
        return torch.stack(spk3_rec, dim=0), torch.stack(mem3_rec, dim=0)


class Runner(tutorial5.Runner):
    """Training and evaluation of the tutorial network (see the module docstring); the PyTorch
    settings, ``sync``, ``device_peak_mb`` and ``describe`` are tutorial 5's runner's."""

    def __init__(self, spec: dict):
        self._start(spec, default_steps=50)
        self.module = Net(spec.get("beta", 0.5), self.steps).to(self.device)
        self.net = torch_settings.maybe_compile(self.module, self.setting)
        self.loss = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=spec.get("lr", 1e-2), betas=(0.9, 0.999))

    def _images(self, x: np.ndarray):
        """Flat pixels ``[B, 784]`` -> the tutorial's ``[B, 1, 28, 28]`` on the device."""
        return torch.from_numpy(np.ascontiguousarray(x)).to(self.device).view(-1, 1, 28, 28)

    def step(self, x: np.ndarray, y: np.ndarray):
        data = self._images(x)
        targets = torch.from_numpy(y.astype(np.int64)).to(self.device)
        self.net.train()
        spk_rec, mem_rec = self.net(data)
        loss_val = self.loss(spk_rec, targets)
        self.optimizer.zero_grad()
        loss_val.backward()
        self.optimizer.step()
        return loss_val

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> dict:
        """Accuracy by output spike count (the tutorial's, and the bsnn loss's read-out)."""
        by_count = 0
        self.net.eval()
        with torch.no_grad():
            for i in range(0, len(y), batch):
                spk, _ = self.net(self._images(x[i:i + batch]))
                target = torch.from_numpy(y[i:i + batch].astype(np.int64)).to(self.device)
                by_count += int((spk.sum(0).argmax(1) == target).sum())
        return {"acc": by_count / len(y)}
