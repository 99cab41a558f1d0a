"""Optimizers and learning-rate schedules by name, from ``braintools.optim``.

    opt = bsnn.make_optimizer("adam", lr=5e-4, schedule="cosine", epochs=10)
    opt.register_trainable_weights(model.states(brainstate.ParamState))

Schedules are per epoch (call ``opt.lr_scheduler.step()`` after each epoch; the
``Trainer`` does).
"""

from __future__ import annotations

import braintools

from bsnn.registry import Registry

__all__ = ["OPTIMIZERS", "SCHEDULES", "make_optimizer"]

#: name -> ``(lr, epochs, step_size, gamma) -> learning rate or braintools scheduler``
SCHEDULES = Registry("schedule", {
    "constant": lambda lr, epochs, step_size, gamma: lr,
    "step": lambda lr, epochs, step_size, gamma: braintools.optim.StepLR(lr, step_size=step_size, gamma=gamma),
    "cosine": lambda lr, epochs, step_size, gamma: braintools.optim.CosineAnnealingLR(lr, T_max=max(int(epochs), 1)),
    "exponential": lambda lr, epochs, step_size, gamma: braintools.optim.ExponentialLR(lr, gamma=gamma),
})

#: name -> ``(rate, clip, momentum=, weight_decay=, amsgrad=, betas=) -> braintools optimizer``
OPTIMIZERS = Registry("optimizer", {
    "adam": lambda rate, clip, momentum, weight_decay, amsgrad, betas: braintools.optim.Adam(
        lr=rate, betas=tuple(betas), weight_decay=weight_decay, amsgrad=amsgrad, **clip),
    "adamw": lambda rate, clip, momentum, weight_decay, amsgrad, betas: braintools.optim.AdamW(
        lr=rate, betas=tuple(betas), weight_decay=weight_decay or 0.01, **clip),
    "sgd": lambda rate, clip, momentum, weight_decay, amsgrad, betas: braintools.optim.SGD(
        lr=rate, momentum=momentum, weight_decay=weight_decay, **clip),
    "momentum": lambda rate, clip, momentum, weight_decay, amsgrad, betas: braintools.optim.Momentum(
        lr=rate, momentum=momentum, weight_decay=weight_decay, **clip),
    "rmsprop": lambda rate, clip, momentum, weight_decay, amsgrad, betas: braintools.optim.RMSprop(
        lr=rate, weight_decay=weight_decay, **clip),
})


def make_optimizer(name: str = "adam", lr: float = 1e-3, *, schedule: str = "constant",
                   epochs: int = 1, step_size: int = 10, gamma: float = 0.5,
                   momentum: float = 0.9, weight_decay: float = 0.0, amsgrad: bool = False,
                   betas=(0.9, 0.999), grad_clip_norm: float | None = None):
    """A ``braintools.optim`` optimizer.

    Args:
      name: ``adam``, ``adamw``, ``sgd`` (with ``momentum``), ``momentum``, ``rmsprop``.
      lr: base learning rate (> 0).
      schedule: ``constant``, ``step`` (x ``gamma`` every ``step_size`` epochs),
        ``cosine`` (to 0 over ``epochs``), ``exponential`` (x ``gamma`` per epoch).
    """
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    build = OPTIMIZERS.lookup(name)
    rate = SCHEDULES.lookup(schedule)(float(lr), epochs, step_size, gamma)
    return build(rate, dict(grad_clip_norm=grad_clip_norm), momentum=momentum, weight_decay=weight_decay,
                 amsgrad=amsgrad, betas=betas)
