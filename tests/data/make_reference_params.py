"""Write tests/data/reference_params.npz: params trained by every per-sample path, for the bit-identity test.

Each case in :data:`CASES` trains a small network with :func:`fastnn.train` on generated data
with a fixed seed, through one of the compiled per-sample paths: the one-thread row loop over
sparse inputs, the dense windows, replicas on two threads (first hidden layer narrower than
``SPLIT_FROM``), units split between two threads (wider) and the dense optimizer rules. The
file stores every case's params and its history's per-epoch loss and accuracy;
``tests/test_reference_params.py`` trains the same cases again and requires the same bits.

The references were made with the code at commit 445afde (before the kernels were split by
job), on the CPU recorded in the file (``host_cpu``). Re-run this only when a change of results is intended, and say so in the commit:
``python tests/data/make_reference_params.py`` from the repository root.
"""
import pathlib

import numpy as np

import fastnn

PATH = pathlib.Path(__file__).with_name("reference_params.npz")


def _data(n, n_in, n_out, kind, seed):
    """``(X, y)``: float32 inputs, sparse (about 60% zeros, like MNIST pixels) or dense
    (standard normal, no zeros); integer labels, or targets in [-0.8, 0.8] for ``mse``."""
    rng = np.random.default_rng(seed)
    if kind == "sparse":
        X = rng.random((n, n_in))
        X[X < 0.6] = 0.0
    else:
        X = rng.standard_normal((n, n_in))
    return X.astype(np.float32), rng.integers(0, n_out, n)


# name: (layer sizes, data kind, train() keyword arguments)
CASES = {
    # the one-thread row loop (sparse inputs)
    "sparse_relu_ce_2hidden": ([24, 12, 8, 5], "sparse", dict(lr=0.05)),
    "sparse_tanh_ce_1hidden_l2_dropout": ([24, 12, 5], "sparse",
                                          dict(lr=0.05, activation="tanh", l2=1e-3, dropout=0.2)),
    "sparse_sigmoid_mse_2hidden": ([24, 12, 8, 5], "sparse",
                                   dict(lr=0.1, activation="sigmoid", output_activation="sigmoid", loss="mse")),
    "sparse_relu_softmax_mse_dropout2": ([24, 12, 8, 5], "sparse",
                                         dict(lr=0.1, output_activation="softmax", loss="mse", dropout=[0.1, 0.3])),
    "sparse_relu_ce_l2_fold": ([24, 12, 5], "sparse", dict(lr=0.05, l2=0.4)),  # the lazy L2 factor folds
    "sparse_no_hidden": ([24, 5], "sparse", dict(lr=0.05, l2=1e-3)),
    "sparse_step_schedule_float64": ([24, 12, 8, 5], "sparse",
                                     dict(lr=lambda t: 0.05 / (1 + t / 500), schedule_unit="step",
                                          dtype="float64")),
    # dense windows (dense inputs, plain SGD)
    "window_relu_ce_2hidden": ([24, 12, 8, 5], "dense", dict(lr=0.01)),
    "window_tanh_mse_1hidden_l2_dropout": ([24, 12, 5], "dense",
                                           dict(lr=0.01, activation="tanh", output_activation="identity", loss="mse",
                                                l2=1e-2, dropout=0.2)),
    "window_sigmoid_ce_l2_fold": ([24, 12, 5], "dense", dict(lr=0.05, activation="sigmoid", l2=0.4)),
    # replicas: two threads, first hidden layer narrower than SPLIT_FROM
    "replicas_relu_ce_2hidden": ([24, 12, 8, 5], "sparse", dict(lr=0.05, n_threads=2)),
    "replicas_tanh_mse_1hidden_l2_dropout": ([24, 12, 5], "sparse",
                                             dict(lr=0.05, n_threads=2, activation="tanh", output_activation="tanh",
                                                  loss="mse", l2=1e-3, dropout=0.2)),
    # split units: two threads, first hidden layer of SPLIT_FROM (256) units or more
    "split_relu_ce_1hidden": ([16, 256, 5], "sparse", dict(lr=0.05, n_threads=2)),
    "split_sigmoid_mse_2hidden_l2_dropout": ([16, 256, 6, 5], "sparse",
                                             dict(lr=0.1, n_threads=2, activation="sigmoid",
                                                  output_activation="softmax", loss="mse", l2=1e-3, dropout=0.2)),
    # the dense rules, per sample
    "rule_momentum_relu_ce": ([24, 12, 8, 5], "sparse", dict(lr=0.01, optimizer="momentum")),
    "rule_nesterov_tanh_mse_l2": ([24, 12, 5], "sparse",
                                  dict(lr=0.01, optimizer=("nesterov", {"beta": 0.8}), activation="tanh",
                                       output_activation="identity", loss="mse", l2=1e-3)),
    "rule_adam_relu_ce_dropout": ([24, 12, 8, 5], "dense", dict(lr=0.001, optimizer="adam", dropout=0.2)),
    "rule_rmsprop_sigmoid_ce": ([24, 12, 5], "sparse", dict(lr=0.001, optimizer="rmsprop", activation="sigmoid")),
    "rule_adagrad_relu_ce_l2": ([24, 12, 5], "dense", dict(lr=0.01, optimizer="adagrad", l2=1e-3)),
}

N_SAMPLES, EPOCHS = 600, 2


def run_case(name):
    """``(params, history)`` of case ``name`` trained with today's :func:`fastnn.train`."""
    sizes, kind, kwargs = CASES[name]
    kwargs = dict(kwargs)
    dtype = kwargs.pop("dtype", "float32")
    X, y = _data(N_SAMPLES, sizes[0], sizes[-1], kind, seed=len(name))
    if kwargs.get("loss") == "mse":
        one_hot = np.eye(sizes[-1])[y]
        T = one_hot * 1.6 - 0.8 if kwargs.get("output_activation") in ("tanh", "identity") else one_hot
        y = T.astype(dtype)
    params = fastnn.init_params(sizes, init="xavier", seed=3, dtype=dtype)
    return fastnn.train(params, X.astype(dtype), y, epochs=EPOCHS, seed=11, **kwargs)


def flatten(name, params, history):
    """The arrays stored for one case, keyed ``<case>/<param>`` and ``<case>/loss``, ``<case>/accuracy``."""
    out = {f"{name}/{k}": v for k, v in params.items()}
    out[f"{name}/loss"] = np.array(history["loss"])
    out[f"{name}/accuracy"] = np.array(history["accuracy"])
    return out


def host_cpu():
    """The CPU that Numba compiles for: reassociated float sums are vectorised to its vector
    width, so another CPU may round the same code differently."""
    import llvmlite.binding as ll

    return f"{ll.get_host_cpu_name()} {ll.get_host_cpu_features().flatten()}"


def main():
    arrays = {"host_cpu": np.array(host_cpu())}
    for name in CASES:
        arrays.update(flatten(name, *run_case(name)))
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {PATH} ({PATH.stat().st_size // 1024} KiB, {len(CASES)} cases)")


if __name__ == "__main__":
    main()
