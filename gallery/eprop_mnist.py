"""e-prop on MNIST: eligibility traces with symmetric feedback, one forward pass, no BPTT.

    python gallery/eprop_mnist.py [--quick] [--out DIR] [--data-dir DIR]

Our best e-prop setting on this CPU budget: 784-512-10, the image as a constant input for
20 steps, current-based LIF hidden layer, leaky read-out trained on the per-step membrane
cross-entropy (its exact online error), SuperSpike pseudo-derivative, Adam 5e-3 with a cosine
schedule, 6 epochs. Memory does not grow with the number of steps (see long_rollout.py).
"""

from _common import mnist_dir, parse_args, run

from bsnn.config import TrainConfig

if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0], "runs/gallery/eprop_mnist")
    cfg = TrainConfig(dataset="mnist", data_dir=mnist_dir(args), method="eprop", hidden=[512], steps=20,
                      dt="1ms", tau_mem="20ms", tau_syn="5ms", threshold="1mV", surrogate="superspike",
                      readout="leaky", encoder="current", loss="membrane-sum-ce", optimizer="adam", lr=5e-3,
                      schedule="cosine", batch_size=64, epochs=6, w_scale=3.0, quiet=True)
    if args.quick:
        cfg.train_subset, cfg.test_subset, cfg.epochs = 2000, 500, 1
    run("eprop_mnist", cfg, args, target=0.93,
        reference={"source": "random-feedback notebook (same family)", "test_acc": [0.915, 0.938]})
