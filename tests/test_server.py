"""fastnn.server and `fastnn serve`: the page, the JSON endpoint, bad input, malformed HTTP, methods,
strict JSON, the whole-request deadline, concurrent requests.

Every server here listens on 127.0.0.1 on a free port and is shut down by its fixture; request
loops are bounded in count and in time. Timings are never asserted beyond "answers at all, in time
to be useful" (bench/serve_load.py measures them).
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
from fastnn.images import load_digit

pytest.importorskip("starlette", reason='fastnn serve needs the serve extra: pip install -e ".[serve]"')
pytest.importorskip("uvicorn", reason='fastnn serve needs the serve extra: pip install -e ".[serve]"')
Image = pytest.importorskip("PIL.Image")

from fastnn.server import DRAIN_LIMIT, MAX_BODY, MAX_SIDE, make_server  # noqa: E402

HOST = "127.0.0.1"


WIRING = {"activation": "relu", "output_activation": "softmax"}


@pytest.fixture(scope="module")
def model():
    params = fastnn.init_params([784, 32, 10], seed=4)
    return params, dict(WIRING)


class running:
    """``with running(make_server(...)) as srv:`` serves in a thread and always stops it."""

    def __init__(self, srv):
        self.srv = srv

    def __enter__(self):
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        return self.srv

    def __exit__(self, *exc):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(model):
    params, wiring = model
    with running(make_server(params, [str(k) for k in range(10)], wiring=wiring, host=HOST, port=0,
                             title="<model>.npz")) as srv:
        yield srv


def strict_json(data):
    """JSON as RFC 8259 has it: NaN, Infinity and -Infinity are refused (Python's json takes them)."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(data, parse_constant=refuse)


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
        return response.status, strict_json(data) if kind.startswith("application/json") else data.decode()
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
    pytest.param('{"width": 10, "height": 10, "pixels": [' + "0," * 99 + "9" * 400 + "]}", 400,
                 "got an integer of 400 digits", id="400-digit-pixel"),
    pytest.param('{"width": 10, "height": 10, "pixels": [' + "0," * 99 + "9" * 5000 + "]}", 400,
                 "malformed JSON", id="5000-digit-pixel"),
    pytest.param('{"width": 10, "height": 10, "pixels": [' + "0," * 99 + "1e400]}", 400,
                 "numbers from 0 to 255", id="infinite-pixel"),
    pytest.param('{"width": ' + "9" * 400 + ', "height": 10, "pixels": []}', 400,
                 "width must be an integer from 8 to 280, got an integer of 400 digits", id="400-digit-width"),
    ({"width": 10, "height": 10, "pixels": [-1] + [0] * 99}, 400, "from 0 to 255"),
    ({"width": 10, "height": 10, "pixels": [0] * 100, "background": "grey"}, 400, "background must be"),
    ({"width": 140, "height": 140, "pixels": [255] * 140 * 140}, 422, "no ink"),
])
def test_bad_requests_get_a_4xx_json_error_and_the_server_goes_on(server, body, status, fragment):
    got, answer = request(server, "POST", "/predict", body, {"Content-Type": "application/json"})
    assert got == status and fragment in answer["error"], answer
    ok, answer = request(server, "POST", "/predict", payload(drawing()))
    assert ok == 200 and "label" in answer


BIG = 10**400


@pytest.mark.parametrize("pixels", [
    [0, 255] * 32, [0.5, 254.5] * 32, [0, 1.5] * 32, [0] * 63 + [2**63], [0] * 63 + [2**64], [0] * 63 + [BIG],
    [1.5] * 63 + [2**64], [1.5] * 63 + [BIG], [0] * 63 + [-(2**63) - 1], [-1] + [2**63] * 63, [0] * 63 + [256],
    [0] * 63 + [-0.5], [0] * 63 + [float("nan")], [0] * 63 + [float("inf")], [0] * 63 + ["7"], [0] * 63 + [None],
    [0] * 63 + [[0]], [[0]] * 64, [[0, 1]] * 64, [0] * 63 + [{}], ["a"] * 64, [0] * 63 + [[[0]] * 2],
], ids=lambda p: "+".join(sorted({type(v).__name__ for v in p})) + f"-{repr(p[-1])[:12]}")
def test_read_drawing_without_booleans_reads_and_refuses_exactly_as_with(pixels):
    """The server skips the value-by-value type check when the JSON text has no true or false; every
    other list reads to the same array, or is refused with the same message, either way."""
    from fastnn.server import RequestError, read_drawing

    drawing = {"width": 8, "height": 8, "pixels": pixels}
    answers = []
    for booleans in (True, False):
        try:
            gray, background = read_drawing(drawing, booleans=booleans)
            answers.append((gray.dtype, gray.tobytes(), background))
        except RequestError as e:
            answers.append((e.status, str(e)))
    assert answers[0] == answers[1]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_a_boolean_pixel_is_refused_in_any_json_encoding(server, encoding):
    """Python's json reads UTF-16 and UTF-32 bodies too: the server looks for true and false in
    the decoded text, not in the bytes, before it skips the type check of every value."""
    body = {"width": 8, "height": 8, "pixels": [0] * 27 + [255] * 10 + [0] * 26 + [True]}
    status, answer = request(server, "POST", "/predict", json.dumps(body).encode(encoding))
    assert status == 400 and "numbers from 0 to 255" in answer["error"], answer
    body["pixels"][-1] = 1  # the same drawing with the number 1 is read
    assert request(server, "POST", "/predict", json.dumps(body).encode(encoding))[0] == 200
    body["note"] = "true or false"  # the words in a string only: checked value by value, and read
    assert request(server, "POST", "/predict", json.dumps(body).encode(encoding))[0] == 200


def test_unknown_paths_and_methods(server):
    status, answer = request(server, "GET", "/nothing")
    assert status == 404 and "the page is /" in answer["error"]
    assert request(server, "POST", "/nothing", "{}")[0] == 404
    status, answer = request(server, "GET", "/predict")
    assert status == 405 and "POST" in answer["error"]
    assert request(server, "PUT", "/predict", "{}")[0] == 405
    assert request(server, "DELETE", "/")[0] == 405


@pytest.mark.parametrize("method, path", [("OPTIONS", "/"), ("OPTIONS", "*"), ("TRACE", "/"), ("PATCH", "/predict"),
                                          ("CONNECT", "127.0.0.1:443"), ("PROPFIND", "/"), ("HEAD", "/predict")])
def test_methods_other_than_get_and_post_get_405_in_json_with_allow(server, method, path):
    head, headers, body = raw_exchange(server, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), parse=False)
    assert head.split()[1] == "405", head
    assert headers["allow"] in ("GET, HEAD, POST", "POST")
    if method != "HEAD":  # a HEAD answer has the headers of the GET answer and no body
        assert headers["content-type"] == "application/json" and "error" in strict_json(body)
    else:
        assert body == b""


def test_head_gives_the_page_headers_without_the_page(server):
    conn = http.client.HTTPConnection(HOST, server.server_address[1], timeout=10)
    try:
        conn.request("HEAD", "/")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b""
        assert response.getheader("Content-Type").startswith("text/html")
        conn.request("GET", "/")  # the same connection goes on: nothing of a body was left behind
        response = conn.getresponse()
        assert response.status == 200 and int(response.getheader("Content-Length")) == len(response.read()) > 1000
    finally:
        conn.close()


def read_until_closed(sock):
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def raw_exchange(server, data, timeout=10, parse=True):
    """Send ``data`` on a raw socket and read until the server closes; return the status line and the
    JSON body of the answer, or with ``parse=False`` the status line, headers (lower-case) and raw body."""
    with socket.create_connection((HOST, server.server_address[1]), timeout=timeout) as sock:
        sock.sendall(data)
        received = read_until_closed(sock)
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if parse:
        return lines[0], strict_json(body)
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:])}
    return lines[0], headers, body


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8"])
@pytest.mark.parametrize("length", ["\u00b2", "\u00b9\u00b2", "9" * 5000, "9" * 30, "+5", "5 5", "0x10", "", "-0"])
def test_malformed_content_length_gets_400_in_json_not_a_dropped_connection(server, length, encoding):
    data = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: " + length.encode(encoding) + b"\r\n\r\n{}"
    status, answer = raw_exchange(server, data)
    assert status.split()[1] == "400" and "malformed HTTP request" in answer["error"]


@pytest.mark.parametrize("data", [
    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n{}",
    b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",                                          # no Host
    b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 40_000,    # unfinished headers beyond h11's 16 KB
    b"GARBAGE\r\n\r\n",
    "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: \u0661\r\n\r\n{}".encode(),  # an Arabic-Indic 1
], ids=["two-lengths", "gzip-coding", "bad-chunk", "no-host", "byte-ff", "space-in-name", "nul", "huge-header",
        "garbage", "arabic-indic-length"])
def test_malformed_requests_get_a_4xx_in_json(server, data):
    status, answer = raw_exchange(server, data)
    assert 400 <= int(status.split()[1]) < 500 and answer["error"], status


def test_an_unknown_http_version_gets_505_in_json(server):
    """Well-formed, but not a version this server speaks (h11 parses any 'HTTP/d.d'): RFC 9110's 505."""
    status, answer = raw_exchange(server, b"GET / HTTP/9.9\r\nHost: x\r\n\r\n")
    assert status.split()[1] == "505" and "HTTP/1.1" in answer["error"]


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
    both = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    status, answer = raw_exchange(server, both)
    assert status.split()[1] == "400" and "not both" in answer["error"]
    with socket.create_connection((HOST, server.server_address[1]), timeout=20) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{}")
        sock.shutdown(socket.SHUT_WR)  # 2 of the 50 bytes, then the end of the stream
        answer = read_until_closed(sock)
    assert answer.split()[1] == b"400" and b"shorter than its Content-Length" in answer


def test_a_chunked_body_is_read_and_bounded(server):
    body = json.dumps(payload(drawing())).encode()
    pieces = [body[k : k + 4000] for k in range(0, len(body), 4000)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    status, answer = raw_exchange(server, head + chunks + b"0\r\n\r\n")
    assert status.split()[1] == "200" and answer == request(server, "POST", "/predict", body)[1]
    big = b"%x\r\n%s\r\n" % (MAX_BODY + 1, b" " * (MAX_BODY + 1))
    status, answer = raw_exchange(server, head + big + b"0\r\n\r\n")
    assert status.split()[1] == "413" and str(MAX_BODY) in answer["error"]


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


def test_make_server_checks_its_arguments(model):
    params, wiring = model
    names = "0123456789"
    with pytest.raises(TypeError, match="callable"):
        make_server("not a function", names)
    with pytest.raises(ValueError, match="kind"):
        make_server(lambda image: image, names, kind="odds")
    with pytest.raises(TypeError, match=r"wiring=meta\['wiring'\]"):
        make_server(params, names)  # the wiring is never guessed
    with pytest.raises(ValueError, match="cannot run the network with wiring"):
        make_server(params, names, wiring={"activation": "swish", "output_activation": "softmax"})
    with pytest.raises(TypeError, match="'activation' and 'output_activation'"):
        make_server(params, names, wiring={"activation": "relu"})
    with pytest.raises(ValueError, match="10 scores but 3 class names"):
        make_server(params, ["a", "b", "c"], wiring=wiring)
    with pytest.raises(ValueError, match="784 inputs"):
        make_server(fastnn.init_params([10, 4, 10], seed=0), names, wiring=wiring)
    with pytest.raises(ValueError, match="request_deadline"):
        make_server(params, names, wiring=wiring, request_deadline=0)
    with pytest.raises(ValueError, match="request_deadline"):
        make_server(params, names, wiring=wiring, request_deadline=float("nan"))


def test_the_wiring_given_is_the_wiring_used(model):
    """A tanh network with a sigmoid output answers with that wiring's scores, labelled as scores."""
    params, _ = model
    wiring = {"activation": "tanh", "output_activation": "sigmoid", "loss": "mse"}
    with running(make_server(params, [str(k) for k in range(10)], wiring=wiring, host=HOST)) as srv:
        status, answer = request(srv, "POST", "/predict", payload(drawing()))
    assert status == 200 and answer["kind"] == "score"
    image = np.asarray(answer["image"], dtype=np.float32).reshape(1, 784)
    expected = fastnn.predict_proba(params, image, activation="tanh", output_activation="sigmoid")[0]
    np.testing.assert_allclose(answer["scores"], expected, atol=2e-3)  # from the 3-decimal image
    relu = fastnn.predict_proba(params, image, activation="relu", output_activation="softmax")[0]
    assert not np.allclose(answer["scores"], relu, atol=2e-3)


def test_non_finite_scores_are_a_json_error_not_nan(model):
    params, wiring = model
    huge = {key: np.full_like(value, 3e38) for key, value in params.items()}  # finite, but overflows
    with running(make_server(huge, [str(k) for k in range(10)], wiring=wiring, host=HOST)) as srv:
        conn = http.client.HTTPConnection(HOST, srv.server_address[1], timeout=10)
        conn.request("POST", "/predict", json.dumps(payload(drawing())))
        response = conn.getresponse()
        data = response.read()
        conn.close()
        answer = strict_json(data)  # today's code answered 200 {"scores": [NaN, ...]}
        assert response.status == 500 and list(answer) == ["error"] and "not finite" in answer["error"]
    with running(make_server(lambda image: [np.inf] + [0] * 9, "0123456789", host=HOST)) as srv:
        status, answer = request(srv, "POST", "/predict", payload(drawing()))
        assert status == 500 and "not finite" in answer["error"]


def test_every_answer_is_strict_json(server):
    """Page aside, each answer of a mixed bag of requests parses under RFC 8259 (request() checks it)."""
    bodies = [payload(drawing()), "{", {"width": 10}, payload(drawing(), background=float("nan")), "[]", "1e999"]
    for body in bodies:
        status, answer = request(server, "POST", "/predict", json.dumps(body) if not isinstance(body, str) else body)
        assert isinstance(answer, dict) and ("error" in answer) == (status != 200)


# -- slow clients, load --------------------------------------------------------------------------


def test_a_slow_client_is_cut_off_by_the_whole_request_deadline(model):
    """A header byte every 0.2 s (each read well within any per-read timeout) is answered 408 at the
    deadline of the whole request, while a normal client is served meanwhile; an idle connection is
    closed silently."""
    params, wiring = model
    deadline = 1.5
    with running(make_server(params, "0123456789", wiring=wiring, host=HOST, request_deadline=deadline)) as srv:
        port = srv.server_address[1]
        # before connecting: the server's deadline runs from when it accepts, which can come before
        # create_connection returns here, so a clock started after it could read under the deadline
        started = time.monotonic()
        with socket.create_connection((HOST, port), timeout=10) as slow, \
                socket.create_connection((HOST, port), timeout=10) as idle:
            request_bytes = b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
            sent, answer = 0, b""
            slow.settimeout(0.2)
            while time.monotonic() - started < deadline + 8:  # bounded: the test ends whatever happens
                try:
                    slow.send(request_bytes[sent : sent + 1])
                    sent += 1
                    chunk = slow.recv(65536)
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
                if not chunk:
                    break
                answer += chunk
            cut_after = time.monotonic() - started
            assert request(srv, "POST", "/predict", payload(drawing()))[0] == 200
            idle.settimeout(10)
            assert read_until_closed(idle) == b""
        assert answer.split(b"\r\n")[0] == b"HTTP/1.1 408 Request Timeout", answer
        assert "within 1.5 s" in strict_json(answer.partition(b"\r\n\r\n")[2])["error"]
        assert deadline <= cut_after < deadline + 8 and sent < len(request_bytes)


def test_many_concurrent_connections_all_get_answers(server):
    """A smoke test of the backlog and concurrency: 200 requests over 20 threads, each on its own
    connection, half of them drawings, half the page: no errors, no resets."""
    body = json.dumps(payload(drawing()))

    def one(k):
        try:
            if k % 2:
                return request(server, "POST", "/predict", body, None, 60)[0]
            return request(server, "GET", "/", None, None, 60)[0]
        except OSError as e:
            return repr(e)

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(one, range(200), timeout=300))
    assert statuses == [200] * 200, [s for s in statuses if s != 200][:5]


def test_the_listen_backlog_holds_a_burst_of_connections(model):
    """100 connections made before the server accepts any: the kernel queues them all (a backlog of 5
    dropped the SYNs beyond the sixth, and those connects stalled), then each gets its answer."""
    params, wiring = model
    srv = make_server(params, "0123456789", wiring=wiring, host=HOST)  # listening, not yet accepting
    waiting = []
    try:
        for _ in range(100):
            waiting.append(socket.create_connection((HOST, srv.server_address[1]), timeout=3))
        with running(srv):
            for sock in waiting:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answers = [read_until_closed(sock) for sock in waiting]
    finally:
        for sock in waiting:
            sock.close()
        srv.server_close()
    assert all(a.startswith(b"HTTP/1.1 200 OK") for a in answers)


def test_connections_beyond_the_limit_get_503_in_json_and_the_others_go_on(model):
    params, wiring = model
    with running(make_server(params, "0123456789", wiring=wiring, host=HOST, max_connections=2)) as srv:
        port = srv.server_address[1]
        with socket.create_connection((HOST, port), timeout=10) as first, \
                socket.create_connection((HOST, port), timeout=10) as second:
            time.sleep(0.3)  # both accepted
            status, answer = raw_exchange(srv, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status.split()[1] == "503" and "2 connections" in answer["error"]
            first.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_until_closed(first).startswith(b"HTTP/1.1 200 OK")
        time.sleep(0.3)  # both closed: room again
        assert request(srv, "GET", "/")[0] == 200


def test_keep_alive_connection_serves_many_requests(server):
    conn = http.client.HTTPConnection(HOST, server.server_address[1], timeout=10)
    conn.connect()
    local = conn.sock.getsockname()
    body = json.dumps(payload(drawing()))
    try:
        for _ in range(20):
            conn.request("POST", "/predict", body)
            response = conn.getresponse()
            assert response.status == 200 and strict_json(response.read())["label"]
            assert conn.sock is not None and conn.sock.getsockname() == local  # no reconnection
    finally:
        conn.close()


# -- the serve extra is optional ------------------------------------------------------------------


def test_import_fastnn_does_not_import_the_server_and_a_missing_extra_says_how_to_install():
    code = ("import sys; import fastnn, fastnn.cli; "
            "assert not {'starlette', 'uvicorn', 'fastnn.server'} & set(sys.modules), sorted(sys.modules)\n"
            "sys.modules['starlette'] = None\n"
            "try:\n    import fastnn.server\nexcept ImportError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install -e '.[serve]'" in done.stdout and "Starlette and uvicorn" in done.stdout


# -- fastnn serve ---------------------------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path, model):
    params, wiring = model
    fastnn.save(tmp_path / "model.npz", params, wiring={**wiring, "loss": "cross_entropy"})
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
