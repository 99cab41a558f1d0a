"""EventProp on MNIST: exact spike-time gradients, 784-10 (or one hidden layer with --hidden).

    python gallery/eventprop_mnist.py [--quick] [--hidden N] [--out DIR] [--data-dir DIR]

The classic setup of the PyTorch EventProp reimplementation: 784 binarized pixels, each
spiking once (black at 10 ms, white at 20 ms), a 40 ms window at dt = 1 ms, one layer of 10
current-based LIF neurons (tau_mem 20 ms, tau_syn 5 ms) trained by EventProp on the
first-spike-time cross-entropy (tau0 = 2 ms, tau1 = 10 ms, alpha = 0.01), Adam, weights
starting with a positive mean so that every output spikes. The reimplementation reports about
85% train and test accuracy within 10 epochs; the target is 85%.

``--hidden N`` adds a hidden spiking layer of N neurons in the setting of Wunderlich & Pehle's
MNIST experiment (their code: eventprop/eventprop, ``paper/figure3.py``): every pixel brighter
than 1/255 spikes once, at ``(1 - x) 30 ms`` (the latency code with ``span`` = 30 ms of a
40 ms window), tau_mem 20 ms, tau_syn 5 ms, a leaky read-out, initial weights ``N(0.065,
0.045)`` into the hidden layer and ``N(0.2, 0.37)`` into the read-out. EventProp's hidden-layer
gradients are accurate only for a step well below tau_syn, so it runs at dt = 0.5 ms (80
steps). Where the paper trains the peak read-out membrane (max-membrane CE) for 100 epochs,
this script trains its time average (mean-membrane CE: the integral loss that Nowotny et al.
found to train EventProp better), with Adam 2e-2 on batches of 64 and a cosine schedule over
30 epochs. On 20,000 training images for 4 epochs (5,000 test images) that setting reached
95.5%, the max-membrane loss at most 91.1% (the best of learning rates 2e-3 to 2e-2), and
BPTT on the same network 93.8% (mean-membrane loss, lr 1e-2).
Wunderlich & Pehle report 97.6% with 350 hidden neurons.
"""

import sys

from _common import mnist_dir, parse_args, run

from bsnn.config import TrainConfig


def _pop_hidden(argv) -> int | None:
    if "--hidden" in argv:
        i = argv.index("--hidden")
        value = int(argv[i + 1])
        del argv[i:i + 2]
        return value
    return None


if __name__ == "__main__":
    argv = list(sys.argv)
    hidden = _pop_hidden(sys.argv)
    name = "eventprop_mnist" + (f"_hidden{hidden}" if hidden else "")
    args = parse_args(__doc__.splitlines()[0], f"runs/gallery/{name}")
    sys.argv[:] = argv                       # results.json records the whole command
    encoder = {"t_black": "10ms", "t_white": "20ms"}
    if hidden is None:
        cfg = TrainConfig(dataset="mnist", data_dir=mnist_dir(args), method="eventprop", hidden=[], steps=40,
                          dt="1ms", tau_mem="20ms", tau_syn="5ms", threshold="1mV", readout="spiking",
                          encoder="binary-latency", encoder_options=encoder, loss="first-spike-ce",
                          loss_options={"tau0": 2.0, "tau1": 10.0, "alpha": 1e-2}, optimizer="adam", lr=2e-3,
                          schedule="cosine", batch_size=128, epochs=10, w_scale=1.0, w_mean=0.02, quiet=True)
    else:
        cfg = TrainConfig(dataset="mnist", data_dir=mnist_dir(args), method="eventprop", hidden=[hidden], steps=80,
                          dt="0.5ms", tau_mem="20ms", tau_syn="5ms", threshold="1mV", readout="leaky",
                          encoder="latency", encoder_options={"threshold": 0.004, "span": 60},
                          loss="mean-membrane-ce", optimizer="adam", lr=2e-2, schedule="cosine", batch_size=64,
                          epochs=30, w_scale=[0.045 * 784 ** 0.5, 0.37 * hidden ** 0.5], w_mean=[0.065, 0.2],
                          quiet=True)
    if args.quick:
        cfg.train_subset, cfg.test_subset, cfg.epochs = 2000, 500, 1
    run(name, cfg, args, target=0.85 if hidden is None else None,
        reference={"source": "PyTorch EventProp reimplementation" if hidden is None else
                   "Wunderlich & Pehle 2021 (latency-coded MNIST, 350 hidden)",
                   "test_acc": 0.85 if hidden is None else 0.976})
