"""The reference workload and every implementation of it that the benchmarks compare.

Reference workload (DESIGN.md): MNIST train set, float32, layers 784-128-64-10, ReLU,
softmax cross-entropy, per-sample SGD, lr 0.01, one epoch, the samples in a shuffled order.

Every implementation starts from the same fastnn ``init_params`` (converted to the peer's
layout), visits the samples one at a time (scikit-learn: in batches of ``SKLEARN_BATCH``)
and hands back its trained weights as a fastnn params dict, so one test-set evaluation
(:func:`evaluate_accuracy`) serves them all. Peers (JAX, PyTorch, scikit-learn) are optional:
:func:`missing_reason` says why one cannot run, and nothing here imports them before asked.

Use: ``impl = IMPLEMENTATIONS[name](workload)`` (compiles, converts; not timed), then per
round ``impl.reset()`` (not timed) and ``result = impl.epoch()`` (timed).
"""
import importlib
import importlib.metadata
import importlib.util
import os
import time
from typing import NamedTuple

import numpy as np

from fastnn import init_params, predict
from fastnn.kernels import sample as codes
from fastnn.kernels import steps
from fastnn.per_sample import kernel_work
from fastnn.packing import KernelOptions, Packed, pack, unpack
from fastnn.training import train
from fastnn.twin import sgd_steps_numpy

LAYERS = (784, 128, 64, 10)
LR = 0.01
SKLEARN_BATCH = 1
"""scikit-learn's batch: 1 is its smallest batch and still practical (see bench/README.md)."""

INSTALL = {
    "jax": "pip install jax jaxlib",
    "torch": "pip install torch==2.13.0",
    "sklearn": "pip install scikit-learn",
}
MODULES = {"jax": ("jax", "jaxlib"), "torch": ("torch",), "sklearn": ("sklearn",)}
DISTRIBUTIONS = {"jax": "jax", "jaxlib": "jaxlib", "torch": "torch", "sklearn": "scikit-learn"}


def load_mnist_arrays(path=None):
    """``(X_train, y_train), (X_test, y_test)``: float32 in [0, 1], int64 labels, C-contiguous.

    ``path`` defaults to ``$FASTNN_DATA`` (then fastnn's own search path).
    """
    from fastnn.datasets import load_mnist

    return load_mnist(path or os.environ.get("FASTNN_DATA") or None)


class Workload(NamedTuple):
    """One epoch's inputs, shared by every implementation."""

    X: np.ndarray  # (n, 784) float32
    y: np.ndarray  # (n,) int64
    T: np.ndarray  # (n, 10) one-hot float32
    order: np.ndarray  # (n,) int64, the visiting order
    params: dict  # initial params, fastnn layout
    lr: float
    seed: int


DENSE_LR = 0.001
"""Learning rate of the dense workload (standardised inputs)."""


def standardise(X, reference):
    """``(X - mean) / (std + 0.1)`` per column, with ``reference``'s column statistics: the
    dense workload's inputs (91% of standardised MNIST pixels are non-zero)."""
    mean, std = reference.mean(axis=0), reference.std(axis=0)
    return np.ascontiguousarray((X - mean) / (std + 0.1), dtype=X.dtype)


def make_workload(X, y, *, n_samples=None, layers=LAYERS, lr=LR, seed=0, dtype="float32"):
    """The reference workload on the first ``n_samples`` rows (all by default), seeded."""
    n = len(X) if n_samples is None else min(int(n_samples), len(X))
    X = np.ascontiguousarray(X[:n], dtype=dtype)
    y = np.ascontiguousarray(y[:n], dtype=np.int64)
    T = np.eye(layers[-1], dtype=dtype)[y]
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    return Workload(X, y, T, order, init_params(list(layers), seed=seed, dtype=dtype), float(lr), seed)


class EpochResult(NamedTuple):
    params: dict  # trained weights in fastnn layout (W: (fan_in, fan_out))
    steps: int  # samples visited
    loss: float  # mean training loss over the epoch (each sample's loss before its update)


def evaluate_accuracy(params, X, y):
    """Fraction of ``X`` classified as ``y`` by a fastnn params dict."""
    return float(np.mean(predict(params, X) == y))


def missing_reason(name):
    """Why implementation ``name`` cannot run here, or None if it can."""
    for module in MODULES.get(name, ()):
        try:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed ({INSTALL[name]})"
            importlib.import_module(module)
        except Exception as exc:  # an installed but broken peer is skipped, with the cause
            return f"{module} is installed but fails to import: {type(exc).__name__}: {exc}"
    return None


def versions(names):
    """``{distribution: version}`` of the peers among ``names`` that are installed."""
    out = {}
    for name in names:
        for module in MODULES.get(name, ()):
            try:
                out[DISTRIBUTIONS[module]] = importlib.metadata.version(DISTRIBUTIONS[module])
            except importlib.metadata.PackageNotFoundError:
                pass
    return out


# -- fastnn ----------------------------------------------------------------------------------


class FastnnTrain:
    """``fastnn.train(params, X, y, epochs=1, lr=0.01, batch_size=1, shuffle=True, seed=s)``.

    The public API as a user calls it: validation, packing and its own shuffle included.
    """

    name, title = "fastnn", "fastnn train()"
    threads = 1
    compile_seconds = None

    def __init__(self, w):
        self.w = w
        self.compile_seconds = self._train(w.X[:64], w.y[:64])[1]["compile_seconds"]

    def _train(self, X, y):
        return train(self.w.params, X, y, epochs=1, lr=self.w.lr, batch_size=1, shuffle=True, seed=self.w.seed,
                     n_threads=self.threads)

    def reset(self):
        pass

    def epoch(self):
        params, history = self._train(self.w.X, self.w.y)
        return EpochResult(params, len(self.w.X), history["loss"][0])


class FastnnThreads(FastnnTrain):
    """:class:`FastnnTrain` with ``n_threads=2``: on sparse inputs a parameter replica per thread, merged every
    few hundred samples per thread; dense inputs take the windows on one thread whatever ``n_threads``."""

    name, title = "fastnn-2t", "fastnn train(), 2 threads"
    threads = 2


def plain_sgd_kernel(theta, n_layers):
    """``run(sizes, offsets, X, T, order, lrs, stats)``: ``kernels.steps.sgd_steps`` on ``theta``
    with plain SGD, ReLU, softmax cross-entropy, no L2, no dropout."""
    opts = KernelOptions(codes.RELU, codes.SOFTMAX, codes.CROSS_ENTROPY, 0.0, np.ones(n_layers), 0, 0, np.zeros(0))
    return lambda sizes, offsets, X, T, order, lrs, stats: steps.sgd_steps(Packed(theta, sizes, offsets), X, T, order,
                                                                           lrs, opts, 0, stats,
                                                                           kernel_work(sizes, theta.dtype),
                                                                           np.ones(n_layers, theta.dtype))


class FastnnKernel:
    """The bare compiled call ``fastnn.kernels.steps.sgd_steps`` on pre-packed params: no validation."""

    name, title = "kernel", "fastnn kernel (bare)"
    compile_seconds = None

    def __init__(self, w):
        self.w = w
        n_layers = len(w.params) // 2
        self.theta0, self.sizes, self.offsets = pack([(w.params[f"W{l}"], w.params[f"b{l}"])
                                                      for l in range(1, n_layers + 1)])
        self.theta = self.theta0.copy()
        self.kernel = plain_sgd_kernel(self.theta, n_layers)
        self.lrs = np.full(len(w.order), w.lr, dtype=w.X.dtype)
        self.stats = np.zeros(3)
        self.kernel(self.sizes, self.offsets, w.X, w.T, w.order[:8], self.lrs[:8], self.stats)
        self.reset()

    def reset(self):
        self.theta[:] = self.theta0  # in place: the kernel closure holds this buffer

    def epoch(self):
        self.stats[:] = 0.0  # the kernel adds to it
        self.kernel(self.sizes, self.offsets, self.w.X, self.w.T, self.w.order, self.lrs, self.stats)
        return EpochResult(unpack(self.theta, self.sizes, self.offsets), int(self.stats[2]),
                           self.stats[0] / max(self.stats[2], 1))


class NumpyTwin:
    """``fastnn.twin.sgd_steps_numpy``: fastnn's own pure-NumPy per-sample loop."""

    name, title = "numpy", "NumPy per-sample (fastnn twin)"
    compile_seconds = None

    def __init__(self, w):
        self.w = w
        self.lrs = np.full(len(w.order), w.lr, dtype=w.X.dtype)

    def reset(self):
        pass

    def epoch(self):
        params = sgd_steps_numpy(self.w.params, self.w.X, self.w.T, self.w.order, self.lrs)
        return EpochResult(params, len(self.w.order), float("nan"))  # the twin reports no loss


class NumpyLoop:
    """The tutorials' NumPy loop: one ``x @ W`` per layer, ``W -= lr * np.outer(h, delta)`` in place.

    What a careful hand-written NumPy per-sample loop costs, as a calibration point beside
    fastnn's twin (which composes the pure functions and builds new arrays every step, so
    it is slower). ReLU hidden layers, softmax cross-entropy, any depth.
    """

    name, title = "numpy-loop", "NumPy per-sample (in-place loop)"
    compile_seconds = None

    def __init__(self, w):
        self.w = w
        self.n_layers = len(w.params) // 2

    def reset(self):
        pass

    def epoch(self):
        w, L = self.w, self.n_layers
        Ws = [w.params[f"W{l}"].copy() for l in range(1, L + 1)]
        bs = [w.params[f"b{l}"].copy() for l in range(1, L + 1)]
        lr = w.X.dtype.type(w.lr)
        loss = 0.0
        for i in w.order:
            hs = [w.X[i]]
            for l in range(L - 1):
                hs.append(np.maximum(hs[-1] @ Ws[l] + bs[l], 0))
            z = hs[-1] @ Ws[-1] + bs[-1]
            e = np.exp(z - z.max())
            total = e.sum()
            loss += float(np.log(total) + z.max() - z[w.y[i]])
            delta = e / total - w.T[i]
            for l in range(L - 1, -1, -1):
                back = (Ws[l] @ delta) * (hs[l] > 0) if l > 0 else None  # before W changes
                Ws[l] -= lr * np.outer(hs[l], delta)
                bs[l] -= lr * delta
                delta = back
        params = {k: v for l in range(L) for k, v in ((f"W{l + 1}", Ws[l]), (f"b{l + 1}", bs[l]))}
        return EpochResult(params, len(w.order), loss / len(w.order))


# -- JAX -----------------------------------------------------------------------------------


class JaxScan:
    """Per-sample SGD as one ``jax.jit`` of ``jax.lax.scan`` over the epoch's samples.

    Compiled ahead of time in the constructor; ``compile_seconds`` is that compile alone.
    """

    name, title = "jax", "JAX jit + lax.scan"

    def __init__(self, w):
        import jax
        import jax.numpy as jnp

        self.w = w
        n_layers = len(w.params) // 2
        self.params0 = [(jnp.asarray(w.params[f"W{l}"]), jnp.asarray(w.params[f"b{l}"]))
                        for l in range(1, n_layers + 1)]
        self.X, self.T = jnp.asarray(w.X), jnp.asarray(w.T)
        self.order = jnp.asarray(w.order.astype(np.int32))
        self.lr = jnp.asarray(w.lr, dtype=w.X.dtype)

        def sample_loss(p, x, t):
            h = x
            for W, b in p[:-1]:
                h = jax.nn.relu(h @ W + b)
            z = h @ p[-1][0] + p[-1][1]
            return jax.nn.logsumexp(z) - t @ z

        def run_epoch(p, X, T, order, lr):
            def step(p, i):
                loss, g = jax.value_and_grad(sample_loss)(p, X[i], T[i])
                return jax.tree_util.tree_map(lambda a, d: a - lr * d, p, g), loss

            return jax.lax.scan(step, p, order)

        start = time.perf_counter()
        self.compiled = jax.jit(run_epoch).lower(self.params0, self.X, self.T, self.order, self.lr).compile()
        self.compile_seconds = time.perf_counter() - start
        jax.block_until_ready(self.compiled(self.params0, self.X, self.T, self.order, self.lr))  # first-run costs

    def reset(self):
        pass

    def epoch(self):
        import jax

        p, losses = jax.block_until_ready(self.compiled(self.params0, self.X, self.T, self.order, self.lr))
        params = {}
        for l, (W, b) in enumerate(p, 1):
            params[f"W{l}"], params[f"b{l}"] = np.asarray(W), np.asarray(b)
        losses = np.asarray(losses)
        return EpochResult(params, len(losses), float(losses.mean()))


# -- PyTorch ---------------------------------------------------------------------------------


def _torch_mlp(torch, params):
    """``nn.Sequential`` of Linear/ReLU layers holding fastnn ``params`` (``weight = W.T``)."""
    n_layers = len(params) // 2
    mods = []
    for l in range(1, n_layers + 1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        lin = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(b))
        mods += [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*mods[:-1])


def _torch_params(model):
    lins = [m for m in model if hasattr(m, "weight")]
    params = {}
    for l, lin in enumerate(lins, 1):
        params[f"W{l}"] = lin.weight.detach().numpy().T.copy()
        params[f"b{l}"] = lin.bias.detach().numpy().copy()
    return params


class TorchEager:
    """PyTorch eager mode, one thread: ``for i in order: zero_grad; loss(model(x_i)).backward(); step``."""

    name, title = "torch", "PyTorch eager per-sample (1 thread)"
    compile_seconds = None
    threads = 1

    def __init__(self, w):
        import torch

        self.torch, self.w = torch, w
        self.X, self.y = torch.from_numpy(w.X), torch.from_numpy(w.y)
        self.order = w.order.tolist()
        self.reset()

    def reset(self):
        self.model = _torch_mlp(self.torch, self.w.params)
        self.opt = self.torch.optim.SGD(self.model.parameters(), lr=self.w.lr)

    def epoch(self):
        torch = self.torch
        F = torch.nn.functional
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            model, opt, X, y = self.model, self.opt, self.X, self.y
            total = 0.0
            for i in self.order:
                opt.zero_grad()
                loss = F.cross_entropy(model(X[i : i + 1]), y[i : i + 1])
                loss.backward()
                opt.step()
                total += loss.item()
        finally:
            torch.set_num_threads(before)
        return EpochResult(_torch_params(model), len(self.order), total / len(self.order))


# -- scikit-learn ----------------------------------------------------------------------------


class SklearnMLP:
    """``MLPClassifier(solver="sgd", batch_size=SKLEARN_BATCH, momentum=0, alpha=0).partial_fit``: one epoch.

    scikit-learn draws its own initial weights on the first ``partial_fit``; ``reset``
    makes that call on one batch and then replaces the weights with the shared init.
    It shuffles with its own generator (``random_state=seed``).
    """

    name, title = "sklearn", f"scikit-learn MLPClassifier (batch {SKLEARN_BATCH})"
    compile_seconds = None

    def __init__(self, w):
        from sklearn.neural_network import MLPClassifier

        self.w = w
        self.classes = np.arange(w.T.shape[1])
        self.make = lambda: MLPClassifier(
            hidden_layer_sizes=LAYERS[1:-1], activation="relu", solver="sgd", learning_rate="constant",
            learning_rate_init=w.lr, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
            batch_size=SKLEARN_BATCH, shuffle=True, random_state=w.seed)
        self.reset()

    def reset(self):
        clf = self.make()
        clf.partial_fit(self.w.X[:SKLEARN_BATCH], self.w.y[:SKLEARN_BATCH], classes=self.classes)
        n_layers = len(self.w.params) // 2
        clf.coefs_ = [self.w.params[f"W{l}"].copy() for l in range(1, n_layers + 1)]
        clf.intercepts_ = [self.w.params[f"b{l}"].copy() for l in range(1, n_layers + 1)]
        self.clf = clf
        self.t0 = clf.t_

    def epoch(self):
        self.clf.partial_fit(self.w.X, self.w.y)
        params = {}
        for l, (W, b) in enumerate(zip(self.clf.coefs_, self.clf.intercepts_), 1):
            params[f"W{l}"], params[f"b{l}"] = W, b
        return EpochResult(params, int(self.clf.t_ - self.t0), float(self.clf.loss_))


IMPLEMENTATIONS = {cls.name: cls for cls in (FastnnTrain, FastnnThreads, FastnnKernel, NumpyTwin, NumpyLoop, JaxScan,
                                             TorchEager, SklearnMLP)}
"""Every implementation of the reference workload, by short name, fastnn first."""
