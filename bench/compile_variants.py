"""What would make the first compilation of ``sgd_steps`` cheaper: variants of the kernel's source, timed.

Run:  python bench/compile_variants.py [--rounds 2]

Each variant is a copy of ``kernels/sample.py`` and ``kernels/steps.py`` (one module) with one
textual change, compiled afresh (``cache=False``) in its own Python process by a first call of
``sgd_steps`` on 100 sparse
samples (784-128-64-10, float32); the variants alternate within each round, and the table
shows each one's median first-call time. The variants:

- ``as is``: the kernel unchanged;
- ``constant codes``: the activation and loss codes replaced by the constants of ReLU,
  softmax and cross-entropy, so that only the branches in use reach type inference and code
  generation (what literal dispatch on the codes would give);
- ``all inlined``: the layer-level pieces (``sum_active_rows``, ``backprop_update_rows``,
  ...) inlined into the kernel in Numba's IR as well (``inline="always"``), as the small ones
  and the loops over the layers are;
- ``only this call``: everything this call does not use cut from the source: ReLU is the only
  activation and softmax cross-entropy the only output and loss, no dropout, no L2 decay. The
  most that compiling only what a call uses could save, short of restructuring the kernel.

None of them compiles the merging of per-thread replicas: ``sgd_steps`` holds none of it
(the threads' replicas call it between their merges, ``merge_round``).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [os.path.join(HERE, "..", "kernels", name) for name in ("sample.py", "steps.py")]

LAYER_PIECES = ("sum_active_rows", "hidden_layer_out", "output_loss_delta", "backprop_update_rows")



def _replace(src, old, new):
    if old not in src:
        raise SystemExit(f"compile_variants: kernels/sample.py no longer contains {old.strip()[:60]!r}; update the variant")
    return src.replace(old, new)


def _rest_of_function(src, start, body):
    """Replace the function's source from the line starting with ``start`` to its end by ``body``."""
    i = src.find(start)
    if i < 0:
        raise SystemExit(f"compile_variants: kernels/sample.py no longer contains {start!r}; update the variant")
    return src[:i] + body + src[src.index("\n\n\n", i):]


def only_this_call(src):
    """The kernel with only what a plain ReLU / softmax cross-entropy, one-thread call uses."""
    src = _rest_of_function(src, "    if code == RELU:\n        return z", "    return z if z > 0 else 0.0")
    src = _rest_of_function(src, "    if code == RELU:\n        return 1.0", "    return 1.0 if h > 0 else 0.0")
    src = _replace(src, """    keep = opts.keep[l]
    if keep < 1.0:
        for k in range(z.size):
            m[k] = 1.0 / keep if keep_unit(opts.seed, step, l, unit0 + k, keep) else 0.0
""", "")
    src = _replace(src, """    if output == SOFTMAX:
        log_total = _softmax(z, best, out)
    else:
        for k in range(n):
            out[k] = activate(z[k], output)
""", "    log_total = _softmax(z, best, out)\n")
    src = _rest_of_function(src, "    if loss == CROSS_ENTROPY:  # softmax output", """\
    sample_loss = log_total + z[best]
    for k in range(n):
        sample_loss -= t[k] * z[k]
    for k in range(n):
        delta[k] = out[k] - t[k]
    return sample_loss, best""")
    return _rest_of_function(src, "    if l2 > 0.0:\n        scale[l] = back", "    return back, lr / scale[l]")


VARIANTS = {
    "as is": lambda src: src,
    "constant codes": lambda src: re.sub(r"opts\.(hidden|output|loss)\b",
                                         lambda m: {"hidden": "RELU", "output": "SOFTMAX", "loss": "CROSS_ENTROPY"}[m[1]],
                                         src),
    "all inlined": lambda src: re.sub(r"@njit\(([^)]*)\)\ndef (%s)\(" % "|".join(LAYER_PIECES),
                                      lambda m: f'@njit({m[1]}, inline="always")\ndef {m[2]}(', src),
    "only this call": only_this_call,
}

CHILD = """
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import variant
from fastnn.per_sample import kernel_work
from fastnn.packing import KernelOptions, pack
rng = np.random.default_rng(0)
widths = [784, 128, 64, 10]
net = pack([(0.05 * rng.standard_normal((a, b)).astype(np.float32), np.zeros(b, np.float32))
                              for a, b in zip(widths[:-1], widths[1:])])
X = rng.random((100, 784), dtype=np.float32)
X[X < 0.8] = 0
T = np.eye(10, dtype=np.float32)[np.arange(100) % 10]
opts = KernelOptions(0, 4, 0, 0.0, np.ones(3), 0, 0, np.zeros(0))
work = kernel_work(net.sizes, net.theta.dtype)
t = time.perf_counter()
variant.sgd_steps(net, X, T, np.arange(100), np.full(100, 0.01, np.float32), opts, 0, np.zeros(3), work,
                  np.ones(3, np.float32))
print(time.perf_counter() - t)
"""


def variant_sources():
    """Each variant's source: ``kernels/sample.py`` and ``kernels/steps.py`` as one module of
    its own (compiled afresh; steps' import of sample dropped, the other relative imports made
    absolute), then changed."""
    texts = []
    for path in SOURCES:
        with open(path) as f:
            texts.append(f.read())
    joined = texts[0] + re.sub(r"^from \.sample import \([^)]*\)\n", "", texts[1], flags=re.M)
    source = re.sub(r"^from \.(\w+) import", r"from fastnn.kernels.\1 import",
                    joined.replace("cache=True", "cache=False"), flags=re.M)
    return {name: change(source) for name, change in VARIANTS.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    sources = variant_sources()
    times = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            names = list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]
            for name in names:
                folder = os.path.join(tmp, f"{r}-{len(times[name])}-{name.replace(' ', '_')}")
                os.makedirs(folder)
                with open(os.path.join(folder, "variant.py"), "w") as f:
                    f.write(sources[name])
                out = subprocess.run([sys.executable, "-c", CHILD, folder], capture_output=True, text=True, check=True)
                times[name].append(float(out.stdout.strip().splitlines()[-1]))
                print(f"round {r + 1}/{args.rounds}  {name:<15} {times[name][-1]:.2f} s", flush=True)
    base = statistics.median(times["as is"])
    print("\n| variant | first call of sgd_steps (median) | against as is |\n|---|---:|---:|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} s | {statistics.median(ts) / base:.2f}x |")


if __name__ == "__main__":
    main()
