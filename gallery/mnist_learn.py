"""MNIST with learned dynamics: the feed-forward setting of ``fashion_mnist.py --learn`` on MNIST.

    python gallery/mnist_learn.py [--quick] [--out DIR] [--data-dir DIR]

784-1000-10 current-based LIF (tau_mem 20 ms, tau_syn 2 ms), the image as a constant current
for 25 steps, ATan surrogate, leaky read-out trained on the cross-entropy of its time-mean
membrane, Adam 2e-3 with a cosine schedule, batch 128, trained by BPTT; every neuron's
``tau_mem`` and the hidden neurons' thresholds are trained too (``bsnn.dynamics``, PLIF-style,
Fang et al. 2021). The MNIST IDX files come from
``--data-dir``, ``$BSNN_DATA``, ``../shared/data/mnist`` or a checksummed download. The
target is 98.5% test accuracy.
"""

from _common import mnist_dir, parse_args, run
from fashion_mnist import setting

EPOCHS = 15

if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0], "runs/gallery/mnist_learn")
    cfg = setting("mnist", learn=True, data_dir=mnist_dir(args), epochs=EPOCHS)
    if args.quick:
        cfg.train_subset, cfg.test_subset, cfg.epochs = 2000, 500, 1
    run("mnist_learn", cfg, args, target=0.985,
        reference={"source": "feed-forward surrogate-gradient SNNs on MNIST (literature)", "test_acc": 0.985})
