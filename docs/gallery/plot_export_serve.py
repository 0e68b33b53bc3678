"""
Export to ONNX, and serve
=========================

A trained network written as a standard ONNX graph and run by ONNX Runtime, which computes
what :func:`fastnn.predict_proba` computes; then the network served by ``fastnn serve`` and
asked, over HTTP, what a drawing shows.
"""
import json
import pathlib
import subprocess
import sys
import tempfile
import urllib.request

import numpy as np
import onnxruntime as ort

import fastnn
from fastnn.datasets import load_mnist
from fastnn.export_onnx import export_onnx

(X, y), (X_test, y_test) = load_mnist()
params = fastnn.init_params([784, 64, 10], seed=0)
params, history = fastnn.train(params, X[:10000], y[:10000], epochs=2, lr=0.02, seed=0)

tmp = pathlib.Path(tempfile.mkdtemp())
export_onnx(params, tmp / "mnist.onnx", activation="relu", output_activation="softmax")
session = ort.InferenceSession(str(tmp / "mnist.onnx"), providers=["CPUExecutionProvider"])
proba = session.run(None, {"input": X_test})[0]
print("largest difference from fastnn.predict_proba:", float(np.abs(proba - fastnn.predict_proba(params, X_test)).max()))

# %%
# ``fastnn serve`` reads a saved model; port 0 picks a free port, which the first line names.
# The page sends drawings to ``POST /predict`` as grey levels; here, a test digit drawn as
# dark ink on light paper.
fastnn.save(tmp / "mnist.npz", params, history=history)
server = subprocess.Popen([sys.executable, "-m", "fastnn", "serve", str(tmp / "mnist.npz"), "--port", "0"],
                          stdout=subprocess.PIPE, text=True)
try:
    line = server.stdout.readline()
    url = line.split(" at ", 1)[1].split()[0]
    pixels = (255 - X_test[0] * 255).round().astype(int).tolist()
    body = json.dumps({"width": 28, "height": 28, "pixels": pixels, "background": "light"}).encode()
    request = urllib.request.Request(url + "predict", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    print(f"served at {url}: the drawing of a {y_test[0]} reads as {answer['label']}")
finally:
    server.terminate()
    server.wait(timeout=30)
