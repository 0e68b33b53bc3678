"""Time to a target test accuracy: fastnn's per-sample recipes against PyTorch mini-batch Adam.

Each contender trains epoch by epoch and is evaluated on the 10,000 test images after every
epoch, until the test accuracy reaches the target. Only training counts: the evaluations
run on a paused :class:`TrainingClock`.
"""
import time
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from fastnn import init_params, predict, schedules
from fastnn.training import train

TARGET = 0.98


class TrainingClock:
    """``now()`` is ``time.perf_counter()`` minus the time spent inside ``paused()``."""

    def __init__(self):
        self.excluded = 0.0

    def now(self):
        return time.perf_counter() - self.excluded

    @contextmanager
    def paused(self):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.excluded += time.perf_counter() - start


class Recipe(NamedTuple):
    """fastnn per-sample SGD on ``layers`` (He init with ``seed``) with a learning-rate schedule.

    ``schedule``: ``"inverse"``, ``lr0 / (1 + epoch)`` per epoch; or ``"cosine"``, a per-step
    half cosine from ``lr0`` down to ``lr0 / 100`` over ``epochs`` epochs (then ``lr0 / 100``).
    ``n_threads > 1`` trains a parameter replica per thread (``fastnn.train(..., n_threads=k)``).
    """

    name: str
    layers: tuple
    lr0: float
    schedule: str = "inverse"
    epochs: int = 0
    seed: int = 0
    n_threads: int = 1

    def learning_rate(self, n_samples):
        """``(lr, schedule_unit)`` for ``fastnn.train`` on ``n_samples`` samples per epoch."""
        if self.schedule == "inverse":
            return (lambda epoch: self.lr0 / (1.0 + epoch)), "epoch"
        if self.schedule == "cosine":
            return schedules.cosine(self.lr0, self.epochs * n_samples, self.lr0 / 100), "step"
        raise ValueError(f"unknown schedule {self.schedule!r}")

    def describe(self):
        lr = (f"lr {self.lr0:g}/(1+epoch)" if self.schedule == "inverse" else
              f"lr {self.lr0:g} cosine to {self.lr0 / 100:g} over {self.epochs} epochs, per step")
        threads = "" if self.n_threads == 1 else f", {self.n_threads} threads"
        return f"{'-'.join(map(str, self.layers))}, ReLU, per-sample SGD, {lr}{threads}, seed {self.seed}"


ISSUE_RECIPE = Recipe("fastnn, issue recipe", (784, 256, 128, 10), 0.02)
"""The recipe named in issue 5 (98.14% after 5 epochs then; 98.06-98.11% after 4 now)."""

FAST_RECIPE = Recipe("fastnn, fast recipe", (784, 192, 10), 0.02, "cosine", epochs=3)
"""One hidden layer of 192 units and a per-step cosine over 3 epochs: 98.09-98.11% after
3 epochs with seeds 0, 1 and 2 (the search: bench/results/recipe_search-previous-readme.json)."""

THREADS_RECIPE = FAST_RECIPE._replace(name="fastnn, fast recipe, 2 threads", n_threads=2)
"""The fast recipe on both cores (PyTorch's side has 2 threads too)."""

RECIPES = {"issue": ISSUE_RECIPE, "fast": FAST_RECIPE, "fast-2-threads": THREADS_RECIPE}

TORCH_ADAM = dict(layers=(784, 256, 128, 10), batch=128, lr=1e-3, threads=2, seed=0)
"""PyTorch's side: mini-batch Adam (default betas), batch 128, 784-256-128-10, 2 threads."""


class Race(NamedTuple):
    name: str
    reached: bool  # the target was reached within max_epochs (always False without a target)
    epochs: int  # epochs trained
    train_seconds: float  # training only, evaluations excluded
    accuracy: float  # test accuracy after the last epoch
    curve: tuple  # ((epoch, cumulative training seconds, test accuracy), ...)


def fastnn_race(recipe, X, y, X_test, y_test, *, target=TARGET, max_epochs=10, clock=None):
    """Train ``recipe`` with ``fastnn.train`` until the test accuracy reaches ``target``.

    One ``train`` call runs every epoch; its callback evaluates the test set (paused clock)
    and stops training at the target. ``target=None`` trains ``max_epochs`` epochs.
    """
    clock = clock or TrainingClock()
    params = init_params(list(recipe.layers), seed=recipe.seed)
    curve = []
    start = clock.now()

    def after_epoch(epoch, current, history):
        with clock.paused():
            acc = float(np.mean(predict(current, X_test) == y_test))
            curve.append((epoch + 1, clock.now() - start, acc))
            return not (target is not None and acc >= target)

    lr, unit = recipe.learning_rate(len(X))
    train(params, X, y, epochs=max_epochs, lr=lr, schedule_unit=unit, batch_size=1, shuffle=True, seed=recipe.seed,
          n_threads=recipe.n_threads, callback=after_epoch)
    total = clock.now() - start
    epochs, _, acc = curve[-1]
    return Race(recipe.name, target is not None and acc >= target, epochs, total, acc, tuple(curve))


def torch_adam_race(X, y, X_test, y_test, *, target=TARGET, max_epochs=20, clock=None, layers=None, batch=None,
                    lr=None, threads=None, seed=None):
    """PyTorch mini-batch Adam as a user writes it, until the test accuracy reaches ``target``.

    Defaults from :data:`TORCH_ADAM`. PyTorch's default initialisation (seeded), a fresh
    ``randperm`` every epoch, ``torch.set_num_threads(threads)`` for the race (restored after).
    """
    import torch

    cfg = dict(TORCH_ADAM)
    cfg.update({k: v for k, v in dict(layers=layers, batch=batch, lr=lr, threads=threads, seed=seed).items()
                if v is not None})
    clock = clock or TrainingClock()
    F = torch.nn.functional
    before = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    try:
        torch.manual_seed(cfg["seed"])
        mods = []
        for n_in, n_out in zip(cfg["layers"][:-1], cfg["layers"][1:]):
            mods += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        model = torch.nn.Sequential(*mods[:-1])
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
        Xt, yt = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(np.ascontiguousarray(y))
        Xv = torch.from_numpy(np.ascontiguousarray(X_test))
        gen = torch.Generator().manual_seed(cfg["seed"])
        n, bs = len(X), cfg["batch"]
        curve = []
        start = clock.now()
        for epoch in range(max_epochs):
            perm = torch.randperm(n, generator=gen)
            for s in range(0, n, bs):
                idx = perm[s : s + bs]
                opt.zero_grad()
                loss = F.cross_entropy(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
            with clock.paused():
                with torch.no_grad():
                    acc = float(np.mean(model(Xv).argmax(dim=1).numpy() == y_test))
                curve.append((epoch + 1, clock.now() - start, acc))
            if target is not None and acc >= target:
                break
        total = clock.now() - start
    finally:
        torch.set_num_threads(before)
    name = f"PyTorch Adam, batch {cfg['batch']}, {cfg['threads']} threads"
    return Race(name, target is not None and acc >= target, len(curve), total, acc, tuple(curve))


def describe_torch_adam(threads=None):
    cfg = dict(TORCH_ADAM, threads=threads or TORCH_ADAM["threads"])
    return (f"{'-'.join(map(str, cfg['layers']))}, ReLU, mini-batch Adam lr {cfg['lr']:g}, batch {cfg['batch']}, "
            f"{cfg['threads']} threads, PyTorch default init, seed {cfg['seed']}")
