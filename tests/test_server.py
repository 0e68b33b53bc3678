"""fastnn.server and `fastnn serve`: the page, the JSON endpoint, bad input, concurrent requests.

Every server here listens on 127.0.0.1 on a free port and is shut down by its fixture; request
loops are bounded in count and in time.
"""
import concurrent.futures
import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastnn
from fastnn import cli
from fastnn.cli.common import scores_of
from fastnn.images import load_digit, preprocess_digit
from fastnn.server import DRAIN_LIMIT, MAX_BODY, MAX_SIDE, make_server

Image = pytest.importorskip("PIL.Image")

HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def model():
    params = fastnn.init_params([784, 32, 10], seed=4)
    return params, {"activation": "relu", "output": "softmax"}


@pytest.fixture(scope="module")
def server(model):
    params, meta = model
    calls = []

    def classify(image):
        calls.append(image)
        return scores_of(params, meta, image)

    srv = make_server(classify, [str(k) for k in range(10)], host=HOST, port=0, title="<model>.npz")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    srv.calls = calls
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)


def request(server, method, path, body=None, headers=None, timeout=10):
    """``(status, decoded JSON or text)`` of one request on a fresh connection."""
    conn = http.client.HTTPConnection(HOST, server.server_address[1], timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(data) if kind.startswith("application/json") else data.decode()
    finally:
        conn.close()


def drawing(digit_seed=0, side=140):
    """A dark '7'-like stroke pair on white, side x side, as the page sends it (0..255 row by row)."""
    rng = np.random.default_rng(digit_seed)
    gray = np.full((side, side), 255, dtype=np.int64)
    top, left = rng.integers(10, 40, size=2)
    gray[top : top + 12, left : left + 70] = 0                      # the bar
    for r in range(top, top + 90):                                   # the slanted stem
        c = left + 70 - (r - top) // 3
        gray[r, max(c - 6, 0) : c + 6] = 0
    return gray


def payload(gray, **extra):
    return {"width": gray.shape[1], "height": gray.shape[0], "pixels": gray.ravel().tolist(), **extra}


def test_page_has_the_canvas_the_clear_button_and_no_external_resources(server):
    status, page = request(server, "GET", "/")
    assert status == 200
    for fragment in ('<canvas id="pad"', 'id="clear"', 'id="seen"', 'id="probs"', "pointerdown", 'fetch("predict"'):
        assert fragment in page
    assert "&lt;model&gt;.npz" in page  # the title is escaped
    assert "http://" not in page and "https://" not in page and "<script src" not in page


def test_prediction_is_prepared_as_fastnn_predict_prepares_a_file(server, model, tmp_path):
    params, meta = model
    gray = drawing()
    status, answer = request(server, "POST", "/predict", payload(gray, background="light"))
    assert status == 200, answer
    # the same drawing as a PNG through fastnn predict's loader gives the same 28 x 28 image and scores
    Image.fromarray(gray.astype(np.uint8)).save(tmp_path / "drawing.png")
    image = load_digit(tmp_path / "drawing.png")
    np.testing.assert_allclose(answer["image"], image, atol=5e-4)
    np.testing.assert_allclose(answer["scores"], scores_of(params, meta, image), atol=1e-6)
    assert answer["index"] == int(np.argmax(answer["scores"])) and answer["label"] == str(answer["index"])
    assert answer["classes"] == [str(k) for k in range(10)] and answer["kind"] == "probability"
    assert sum(answer["scores"]) == pytest.approx(1, abs=1e-5)


def test_light_ink_on_dark_and_auto_background_read_the_same(server):
    gray = drawing(1)
    _, light = request(server, "POST", "/predict", payload(gray, background="light"))
    _, auto = request(server, "POST", "/predict", payload(gray))
    _, dark = request(server, "POST", "/predict", payload(255 - gray, background="dark"))
    assert light["image"] == auto["image"] == dark["image"]
    assert np.asarray(light["image"]).shape == (28, 28)


@pytest.mark.parametrize("body, status, fragment", [
    ("{not json", 400, "malformed JSON"),
    (b"\xff\xfe\x00garbage", 400, "malformed JSON"),
    pytest.param("[" * 100_000, 400, "malformed JSON", id="deeply-nested"),
    ("null", 400, "expected a JSON object"),
    ("[1, 2, 3]", 400, "expected a JSON object"),
    ({"width": 140, "height": 140}, 400, "missing pixels"),
    ({"pixels": []}, 400, "missing width, height"),
    ({"width": 10, "height": 10, "pixels": [0] * 99}, 400, "100 values, got 99"),
    ({"width": 10, "height": 10, "pixels": [0] * 101}, 400, "100 values, got 101"),
    ({"width": 4, "height": 4, "pixels": [0] * 16}, 400, "width must be an integer from 8"),
    ({"width": MAX_SIDE + 1, "height": 10, "pixels": [0] * 10 * (MAX_SIDE + 1)}, 400, "width must be"),
    ({"width": 10.0, "height": 10, "pixels": [0] * 100}, 400, "width must be an integer"),
    ({"width": True, "height": 10, "pixels": [0] * 100}, 400, "width must be an integer"),
    ({"width": 10, "height": 10, "pixels": "0" * 100}, 400, "must be a list"),
    ({"width": 10, "height": 10, "pixels": [[0]] * 100}, 400, "numbers from 0 to 255"),
    ({"width": 10, "height": 10, "pixels": [0] * 99 + [None]}, 400, "numbers from 0 to 255"),
    ({"width": 10, "height": 10, "pixels": [0] * 99 + [True]}, 400, "numbers from 0 to 255"),
    ('{"width": 10, "height": 10, "pixels": [' + "NaN," * 99 + "0]}", 400, "numbers from 0 to 255"),
    ({"width": 10, "height": 10, "pixels": [0] * 99 + [256]}, 400, "from 0 to 255, got 0 to 256"),
    ({"width": 10, "height": 10, "pixels": [-1] + [0] * 99}, 400, "from 0 to 255"),
    ({"width": 10, "height": 10, "pixels": [0] * 100, "background": "grey"}, 400, "background must be"),
    ({"width": 140, "height": 140, "pixels": [255] * 140 * 140}, 422, "no ink"),
])
def test_bad_requests_get_a_4xx_json_error_and_the_server_goes_on(server, body, status, fragment):
    got, answer = request(server, "POST", "/predict", body, {"Content-Type": "application/json"})
    assert got == status and fragment in answer["error"], answer
    ok, answer = request(server, "POST", "/predict", payload(drawing()))
    assert ok == 200 and "label" in answer


def test_unknown_paths_and_methods(server):
    assert request(server, "GET", "/nothing")[0] == 404
    assert request(server, "POST", "/nothing", "{}")[0] == 404
    status, answer = request(server, "GET", "/predict")
    assert status == 405 and "POST" in answer["error"]
    assert request(server, "PUT", "/predict", "{}")[0] == 405
    assert request(server, "DELETE", "/")[0] == 405


def raw_exchange(server, data, timeout=10):
    """Send ``data`` on a raw socket; return the status line and the JSON body of the answer."""
    with socket.create_connection((HOST, server.server_address[1]), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body)


def test_a_body_over_the_limit_is_refused(server):
    # the headers announce 100 MB and nothing follows: the answer comes at once, the body is never awaited
    status, answer = raw_exchange(server, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
    assert status.split()[1] == "413" and str(MAX_BODY) in answer["error"]
    # a little over the limit, sent whole: the client gets the 413 answer, not a reset connection
    big = json.dumps(payload(np.zeros((MAX_SIDE, MAX_SIDE), dtype=int))).encode() + b" " * MAX_BODY
    assert MAX_BODY < len(big) <= DRAIN_LIMIT
    status, answer = request(server, "POST", "/predict", big)
    assert status == 413 and "limit" in answer["error"]


def test_missing_or_bad_length_and_a_short_body(server):
    status, answer = raw_exchange(server, b"POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status.split()[1] == "411" and "Content-Length" in answer["error"]
    status, _ = raw_exchange(server, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
    assert status.split()[1] == "400"
    chunked = b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    assert raw_exchange(server, chunked)[0].split()[1] == "411"
    with socket.create_connection((HOST, server.server_address[1]), timeout=20) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{}")
        sock.shutdown(socket.SHUT_WR)  # 2 of the 50 bytes, then the end of the stream
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split()[1] == b"400" and b"shorter than its Content-Length" in answer


def test_the_largest_drawing_fits_the_body_limit(server):
    gray = np.full((MAX_SIDE, MAX_SIDE), 255)
    gray[40:200, 100:130] = 100
    body = json.dumps(payload(gray))
    assert len(body) < MAX_BODY
    assert request(server, "POST", "/predict", body)[0] == 200


def test_concurrent_requests_all_get_their_own_answer(server):
    """48 requests from 8 threads at once, 6 different drawings: each answer is that drawing's, within 60 s."""
    drawings = [drawing(seed) for seed in range(6)]
    expected = [request(server, "POST", "/predict", payload(g))[1] for g in drawings]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [(k % 6, pool.submit(request, server, "POST", "/predict", payload(drawings[k % 6]), None, 30))
                   for k in range(48)]
        results = [(k, f.result(timeout=60)) for k, f in futures]
    assert time.monotonic() - started < 60
    for k, (status, answer) in results:
        assert status == 200 and answer == expected[k]


def test_a_stalled_client_does_not_block_the_others(server):
    with socket.create_connection((HOST, server.server_address[1]), timeout=10) as stalled:
        stalled.sendall(b"POST /predict HTTP/1.1\r\nContent-Len")  # and nothing more
        started = time.monotonic()
        status, _ = request(server, "POST", "/predict", payload(drawing()))
        assert status == 200 and time.monotonic() - started < 5


def test_a_failing_network_gives_500_and_the_server_goes_on():
    calls = []

    def classify(image):
        calls.append(1)
        if len(calls) == 1:
            raise FloatingPointError("the network broke")
        return np.full(10, 0.1)

    srv = make_server(classify, "0123456789", host=HOST, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        status, answer = request(srv, "POST", "/predict", payload(drawing()))
        assert status == 500 and answer == {"error": "FloatingPointError: the network broke"}
        status, answer = request(srv, "POST", "/predict", payload(drawing()))
        assert status == 200 and answer["index"] == 0 and answer["kind"] == "probability"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


def test_make_server_checks_its_arguments():
    with pytest.raises(TypeError, match="callable"):
        make_server("not a function", "0123456789")
    with pytest.raises(ValueError, match="kind"):
        make_server(lambda image: image, "0123456789", kind="odds")


# -- fastnn serve ---------------------------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path, model):
    params, meta = model
    fastnn.save(tmp_path / "model.npz", params, **meta)
    return tmp_path / "model.npz"


def test_serve_command_listens_on_localhost_and_stops_on_ctrl_c(model_file):
    proc = subprocess.Popen([sys.executable, "-m", "fastnn", "serve", str(model_file), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"serving {model_file} at http://127.0.0.1:"), line + proc.stderr.read()
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "stopped" in out and "Traceback" not in err


def test_serve_command_refuses_bad_models_and_busy_ports(model_file, tmp_path, capsys):
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    assert cli.main(["serve", str(tmp_path / "junk.npz")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a readable fastnn model" in err
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        assert cli.main(["serve", str(model_file), "--port", str(busy.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "fastnn serve: error: cannot listen on 127.0.0.1:" in err
    assert cli.main(["serve", str(model_file), "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
