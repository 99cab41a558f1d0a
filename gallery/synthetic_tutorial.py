"""The brainpy.state training tutorial's synthetic task: 100 Poisson inputs, 4 LIF, 2 classes.

    python gallery/synthetic_tutorial.py [--quick] [--out DIR]

100 inputs spiking at 5 Hz for 200 steps of 1 ms (256 frozen samples with random labels,
``bsnn.data.synthetic``), a 100-4-2 network Expon -> LIF -> Linear -> Expon, ReLU-shaped
surrogate, cross-entropy of the time-mean read-out, Adam 3e-3, full batch, 200 steps. The
tutorial's loss falls from 0.693 to 0.574 in those 200 steps; ours must fall at least as far.

The read-out is bsnn's leaky read-out with tau_syn = 10 ms and a membrane time constant far
below dt, so its output is the filtered synaptic current, as the tutorial's Expon read-out.
Weights start as the tutorial's Kaiming-normal ones (std sqrt(2 / fan_in)).
"""

import math

from _common import parse_args, run

from bsnn import data
from bsnn.config import TrainConfig

if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0], "runs/gallery/synthetic_tutorial")
    dataset = data.synthetic(seed=args.seed)
    cfg = TrainConfig(dataset="synthetic", hidden=[4], dt="1ms", tau_mem=["20ms", "0.001ms"],
                      tau_syn=["5ms", "10ms"], threshold="1mV", surrogate="relu", readout="leaky",
                      encoder="events", loss="mean-membrane-ce", optimizer="adam", lr=3e-3,
                      schedule="constant", batch_size=256, epochs=200, w_scale=math.sqrt(2.0), quiet=True)
    if args.quick:
        cfg.epochs = 10
    run("synthetic_tutorial", cfg, args, dataset=dataset, target_loss=0.574,
        reference={"source": "brainpy.state tutorial 4", "first_loss": 0.693, "final_loss": 0.574},
        notes="one epoch = one full-batch step; 'test' is the training set (random labels: memorization)")
