"""Plots: spike rasters, membrane traces with spike times, learning curves (matplotlib, PNG).

    out = model.run(x, record=True)
    bsnn.plot.raster([x_sample, *out.layer_spikes_of_sample], "raster.png", dt=1.0)

Each function takes plain arrays for one sample (``[T, N]``) and writes one PNG,
returning its path; ``sample_figures`` draws all three for one sample of a model's run
(``bsnn plot OUT``, ``bsnn.cli.plot_run``, loads a trained run and calls it). Figures are
``matplotlib.figure.Figure`` objects rendered by the Agg canvas: importing this module
changes no matplotlib state (the backend stays the user's) and opens no window.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

__all__ = ["raster", "membrane", "learning_curves", "feature_maps", "sample_figures"]


def _save(fig, path: str) -> str:
    """Write the figure atomically (a temporary file renamed into place)."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp-{os.getpid()}.png")
        try:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError as err:
        from bsnn.runfiles import os_error
        raise os_error(path, err) from None
    return path


def raster(layers: Sequence[np.ndarray], path: str, *, dt: float = 1.0,
           names: Sequence[str] | None = None, title: str | None = None,
           inputs: int = 1) -> str:
    """Spike rasters of one sample, one panel per layer.

    Args:
      layers: per layer ``[T, N]`` spikes (0/1) of one sample, input first.
      dt: step in ms (x axis in ms).
      names: panel titles (default: input, hidden 1.., output).
      title: figure title.
      inputs: how many leading panels are inputs. An input spike of step ``k`` arrives at
        ``k dt`` and is drawn there; a neuron's spike of step ``k`` is emitted at the end
        of the step, ``(k + 1) dt``.
    """
    layers = [np.asarray(s) for s in layers]
    if not layers or any(s.ndim != 2 for s in layers):
        raise ValueError("raster needs a list of [T, N] spike arrays, one per layer")
    if names is None:
        names = ["input"] + [f"hidden {k}" for k in range(1, len(layers) - 1)] + ["output"]
    heights = [max(1.0, min(3.0, s.shape[1] / 60)) for s in layers]
    fig = Figure(figsize=(7, 1.2 + 1.3 * sum(heights)))
    axes = fig.subplots(len(layers), 1, sharex=True, gridspec_kw={"height_ratios": heights}, squeeze=False)
    for k, (ax, s, name) in enumerate(zip(axes[:, 0], layers, names)):
        ax.set_ylabel(f"{name}\nneuron")
        shift = 0.0 if k < inputs else 1.0   # arrival (k dt) for inputs, emission ((k + 1) dt) for neurons
        if not np.isin(s, (0, 1)).all():      # an analog input (constant current): draw its values
            ax.imshow(s.T, aspect="auto", origin="lower", cmap="Greys", interpolation="nearest",
                      extent=((shift - 0.5) * dt, (s.shape[0] + shift - 0.5) * dt, -0.5, s.shape[1] - 0.5))
            ax.set_title(f"{name}: analog current (darker = larger)", fontsize=9, loc="left")
            continue
        t, n = np.nonzero(s)
        ax.scatter((t + shift) * dt, n, s=2, c="k", marker="|", linewidths=0.8)
        ax.set_ylim(-0.5, s.shape[1] - 0.5)
        ax.set_title(f"{name}: {int(s.sum())} spikes", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (ms)")
    axes[-1, 0].set_xlim(0, layers[0].shape[0] * dt + dt)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def membrane(v: np.ndarray, path: str, *, spikes: np.ndarray | None = None, dt: float = 1.0,
             threshold: float | None = None, label: int | None = None, title: str | None = None) -> str:
    """Output membrane traces ``v [T, C]`` (mV) of one sample, spike times marked, threshold dashed."""
    v = np.asarray(v)
    if v.ndim != 2:
        raise ValueError(f"membrane needs v of shape [T, C], got {v.shape}")
    t = (np.arange(v.shape[0]) + 1) * dt
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    colors = colormaps["tab10"](np.linspace(0, 1, 10))
    for c in range(v.shape[1]):
        width = 2.2 if c == label else 1.0
        ax.plot(t, v[:, c], color=colors[c % 10], lw=width, label=f"{c}" + (" (label)" if c == label else ""))
        if spikes is not None:
            ts = t[np.asarray(spikes)[:, c] > 0]
            ax.plot(ts, np.full_like(ts, v.max() + 0.05 * (np.ptp(v) + 1e-9)), "|", color=colors[c % 10], ms=8)
    if threshold is not None:
        ax.axhline(threshold, color="gray", ls="--", lw=0.8, label="threshold")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("membrane (mV)")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title or "output membrane potential")
    return _save(fig, path)


def learning_curves(history: Sequence[dict], path: str, title: str | None = None) -> str:
    """Training loss and train/test accuracy per epoch from a metrics history."""
    if not history:
        raise ValueError("learning_curves needs at least one epoch of metrics")
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(9, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax2.plot(epochs, [h["train_acc"] for h in history], "o-", label="train")
    ax2.plot(epochs, [h["test_acc"] for h in history], "s-", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.legend()
    best = max(h["test_acc"] for h in history)
    ax2.set_title(f"best test {best:.4f}", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def feature_maps(maps: Sequence[tuple], path: str, *, channels: int = 8, title: str | None = None) -> str:
    """Spike counts of one sample over the run, one row per convolutional layer, one image per
    feature map (the first ``channels`` of each layer).

    Args:
      maps: ``(name, counts [H, W, C])`` per layer.
      channels: feature maps drawn per layer.
      title: figure title.
    """
    maps = [(name, np.asarray(c)) for name, c in maps]
    if not maps or any(c.ndim != 3 for _, c in maps):
        raise ValueError("feature_maps needs (name, [H, W, C] spike counts) per layer")
    cols = min(channels, max(c.shape[2] for _, c in maps))
    fig = Figure(figsize=(1.3 * cols + 0.6, 1.5 * len(maps) + 0.6))
    axes = fig.subplots(len(maps), cols, squeeze=False)
    for row, (name, counts) in enumerate(maps):
        top = max(float(counts.max()), 1.0)
        for col in range(cols):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= counts.shape[2]:
                ax.axis("off")
                continue
            ax.imshow(counts[:, :, col], cmap="Greys", vmin=0, vmax=top, interpolation="nearest")
            ax.set_title(f"map {col}", fontsize=7)
        axes[row, 0].set_ylabel(f"{name}\n{int(counts.sum())} spikes", fontsize=8)
    fig.suptitle(title or "spike counts per feature map (darker = more)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def sample_figures(model, x, history: Sequence[dict], directory: str, *, label: int | None = None,
                   caption: str | None = None, out=None) -> list:
    """``learning_curves.png`` (when ``history`` is given), ``raster.png``, ``membrane.png``
    and, for a model with convolutional layers, ``feature_maps.png`` of one sample in
    ``directory``; returns their paths.

    Args:
      model: a ``SpikingClassifier`` (run with ``record=True`` on ``x``).
      x: the encoded sample, ``[T, 1, N_in]`` (array or ``Repeated``).
      history: per-epoch metrics (``Trainer.history``), or empty for no learning curves.
      label: the sample's class (drawn thicker).
      caption: the figures' title.
      out: ``model.run(x, record=True)`` when already computed.
    """
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"{directory}: it is a file, not a directory")
    out = model.run(x, record=True) if out is None or out.layer_spikes is None else out
    dense = x.dense() if hasattr(x, "dense") else x
    dt = model.dt_ms
    paths = [learning_curves(history, os.path.join(directory, "learning_curves.png"))] if history else []
    layers = [np.asarray(dense[:, 0])] + [np.asarray(s[:, 0]) for s in out.layer_spikes]
    names = ["input"] + [f"hidden {k}" for k in range(1, len(layers) - 1)] + ["output"]
    if not model.layers[-1].spiking:          # a leaky read-out has no spikes to draw
        layers, names = layers[:-1], names[:-2] + [names[-2]]
    paths.append(raster(layers, os.path.join(directory, "raster.png"), dt=dt, names=names, title=caption))
    convs = [(names[k + 1], np.asarray(out.layer_spikes[k][:, 0]).sum(0).reshape(layer.projection.out_shape))
             for k, layer in enumerate(model.layers) if getattr(layer, "projection", None) is not None
             and len(layer.projection.out_shape) == 3]
    if convs:                                 # convolutional layers: their feature maps
        paths.append(feature_maps(convs, os.path.join(directory, "feature_maps.png"), title=caption))
    last = model.layers[-1]
    paths.append(membrane(np.asarray(out.v[:, 0]), os.path.join(directory, "membrane.png"),
                          spikes=np.asarray(out.spikes[:, 0]) if last.spiking else None, dt=dt,
                          threshold=float(np.mean(last.constants.v_th)) if last.spiking else None,
                          label=label, title=caption))
    return paths
