"""A small local web page to draw a digit on, and the JSON endpoint that reads it.

:func:`make_server` returns a standard-library ``ThreadingHTTPServer`` with two routes:

``GET /``
    One page (``fastnn/serve.html``: inline CSS and JavaScript, no build step) with a canvas
    for the mouse or a finger, the answer and every class's probability as the stroke is drawn,
    a button to clear, and the 28 x 28 image the network saw.
``POST /predict``
    A JSON object ``{"width": W, "height": H, "pixels": [...], "background": "light"}``: a
    grayscale drawing, ``W * H`` integers 0..255 row by row (``background`` is optional:
    ``auto``, ``light`` or ``dark``, as ``fastnn predict --background``). The drawing is
    prepared exactly as ``fastnn predict`` prepares an image file
    (:func:`fastnn.images.preprocess_digit`: cropped to the ink, scaled into 20 x 20, centred
    on the centre of mass in 28 x 28). The answer: ``{"label", "index", "scores", "classes",
    "kind", "image"}`` (``image``: the 28 x 28 input, 0..1, three decimals).

Bad input never stops the server: a body over :data:`MAX_BODY` bytes is refused with 413,
malformed JSON or a wrong image size with 400, a blank drawing with 422, each with a JSON
``{"error": "..."}``; unknown paths give 404 and other methods 405.
"""
import html
import json
import math
import pathlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

MAX_SIDE = 280
"""Largest accepted width or height of a drawing, in pixels (the page sends 140 x 140)."""

MIN_SIDE = 8
"""Smallest accepted width or height."""

MAX_BODY = 512 * 1024
"""Largest accepted request body, in bytes: room for a MAX_SIDE x MAX_SIDE drawing written as JSON."""

DRAIN_LIMIT = 4 * MAX_BODY
"""A body over MAX_BODY but within this many bytes is read and dropped before the 413 answer (a client
that is still sending would otherwise see its connection reset instead of the answer); a larger one is
refused at once, unread."""

PAGE = pathlib.Path(__file__).with_name("serve.html")

__all__ = ["make_server", "read_drawing", "RequestError", "MAX_SIDE", "MIN_SIDE", "MAX_BODY"]


class RequestError(ValueError):
    """A request the server refuses: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def read_drawing(payload):
    """The grayscale drawing of a ``/predict`` request: ``(pixels (H, W) float64 in [0, 1], background)``.

    Parameters
    ----------
    payload : object
        The decoded JSON body.

    Raises
    ------
    RequestError
        With status 400 and a message saying what is wrong.
    """
    bad = HTTPStatus.BAD_REQUEST
    if not isinstance(payload, dict):
        raise RequestError(bad, 'expected a JSON object {"width": W, "height": H, "pixels": [...]}')
    missing = [key for key in ("width", "height", "pixels") if key not in payload]
    if missing:
        raise RequestError(bad, f"missing {', '.join(missing)}")
    sides = {}
    for key in ("width", "height"):
        side = payload[key]
        if not isinstance(side, int) or isinstance(side, bool) or not MIN_SIDE <= side <= MAX_SIDE:
            raise RequestError(bad, f"{key} must be an integer from {MIN_SIDE} to {MAX_SIDE}, got {side!r}")
        sides[key] = side
    pixels = payload["pixels"]
    expected = sides["width"] * sides["height"]
    if not isinstance(pixels, list) or len(pixels) != expected:
        got = f"{len(pixels)} values" if isinstance(pixels, list) else type(pixels).__name__
        raise RequestError(bad, f"pixels must be a list of width*height = {expected} values, got {got}")
    if not all(type(v) is int or type(v) is float and math.isfinite(v) for v in pixels):
        raise RequestError(bad, "pixels must be numbers from 0 to 255")
    gray = np.array(pixels, dtype=np.float64)
    if gray.min() < 0 or gray.max() > 255:
        raise RequestError(bad, f"pixels must lie from 0 to 255, got {gray.min():g} to {gray.max():g}")
    background = payload.get("background", "auto")
    if background not in ("auto", "light", "dark"):
        raise RequestError(bad, f"background must be 'auto', 'light' or 'dark', got {background!r}")
    return gray.reshape(sides["height"], sides["width"]) / 255.0, background


def make_server(classify, class_names, *, host="127.0.0.1", port=0, kind="probability", title="fastnn"):
    """A ``ThreadingHTTPServer`` serving the drawing page and ``/predict``, bound but not yet serving.

    Parameters
    ----------
    classify : callable
        ``classify(image)`` -> the network's scores (one per class) for a prepared (28, 28)
        float32 image; called from several threads at once.
    class_names : sequence of str
        The name of each class, in the order of the scores.
    host : str
        Address to bind; the default, 127.0.0.1, is reachable from this machine only.
    port : int
        Port to bind; 0 picks a free one (read it back from ``server.server_address``).
    kind : {'probability', 'score'}
        What the scores are (a softmax output's are probabilities); the page labels them so.
    title : str
        Shown in the page's heading (e.g. the model's file name).

    Returns
    -------
    http.server.ThreadingHTTPServer
        Call ``serve_forever()`` (and ``shutdown()`` from another thread, then ``server_close()``).
    """
    from .images import preprocess_digit

    names = [str(n) for n in class_names]
    if not callable(classify):
        raise TypeError(f"classify must be callable, got {type(classify).__name__}")
    if kind not in ("probability", "score"):
        raise ValueError(f"kind must be 'probability' or 'score', got {kind!r}")
    page = PAGE.read_text(encoding="utf-8").replace("{{TITLE}}", html.escape(str(title))).encode("utf-8")

    def predict(body):
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"malformed JSON: {e}") from None
        gray, background = read_drawing(payload)
        try:
            image = preprocess_digit(gray, background=background)
        except ValueError as e:  # a blank canvas
            raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY, str(e)) from None
        scores = np.asarray(classify(image), dtype=np.float64)
        index = int(np.argmax(scores))
        return {"label": names[index], "index": index, "scores": [round(float(s), 6) for s in scores],
                "classes": names, "kind": kind, "image": np.round(image, 3).tolist()}

    class Handler(BaseHTTPRequestHandler):
        server_version = "fastnn-serve"
        timeout = 10  # seconds a client may take to send its request
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet: the terminal shows only the address
            pass

        def send(self, status, body, content_type):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def send_json(self, status, obj):
            self.send(status, json.dumps(obj).encode("utf-8"), "application/json")

        def refuse(self, status, message):
            self.close_connection = True  # an unread body must not be taken for the next request
            self.send_json(status, {"error": message})

        def do_GET(self):
            if self.path.split("?", 1)[0] in ("/", "/index.html"):
                self.send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            elif self.path == "/predict":
                self.refuse(HTTPStatus.METHOD_NOT_ALLOWED, "POST a JSON drawing to /predict")
            else:
                self.refuse(HTTPStatus.NOT_FOUND, f"no page {self.path!r}; the page is /")

        def do_POST(self):
            if self.path != "/predict":
                return self.refuse(HTTPStatus.NOT_FOUND, f"no endpoint {self.path!r}; POST to /predict")
            length = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding") or length is None:
                return self.refuse(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
            if not length.isdigit():
                return self.refuse(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length!r}")
            if int(length) > MAX_BODY:
                if int(length) <= DRAIN_LIMIT:  # read it away, so the client is not cut off mid-send
                    remaining = int(length)
                    while remaining > 0 and (chunk := self.rfile.read(min(remaining, 1 << 16))):
                        remaining -= len(chunk)
                return self.refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                   f"the body has {int(length)} bytes; the limit is {MAX_BODY}")
            body = self.rfile.read(int(length))
            if len(body) < int(length):
                return self.refuse(HTTPStatus.BAD_REQUEST, "the body is shorter than its Content-Length")
            try:
                self.send_json(HTTPStatus.OK, predict(body))
            except RequestError as e:
                self.refuse(e.status, str(e))
            except Exception as e:  # never let one request take the server down
                self.refuse(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}")

        def do_PUT(self):
            self.refuse(HTTPStatus.METHOD_NOT_ALLOWED, "only GET / and POST /predict")

        do_DELETE = do_PATCH = do_PUT

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
