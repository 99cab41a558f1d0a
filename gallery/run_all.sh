#!/usr/bin/env bash
# Run every gallery script in full mode (results in runs/gallery/NAME), then rebuild the table
# of gallery/README.md and the documentation's gallery figures.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in surrogate_mnist latency_mnist conv_mnist eventprop_mnist random_feedback_mnist eprop_mnist \
              synthetic_tutorial fashion_mnist long_rollout alif_memory randman yinyang_eventprop; do
  python "gallery/$script.py"
done
python gallery/shd.py || echo "shd.py: the SHD files are not here (see its message); SHD not measured"
python gallery/latency_mnist.py --best
python gallery/conv_mnist.py --best
python gallery/eventprop_mnist.py --hidden 350
python gallery/fashion_mnist.py --learn
python gallery/mnist_learn.py
python gallery/summarize.py
mkdir -p gallery/results && for d in runs/gallery/*/; do cp "$d/results.json" "gallery/results/$(basename "$d").json"; done
python docs/make_figures.py --gallery runs/gallery
