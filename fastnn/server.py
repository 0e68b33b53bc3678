"""A small local web page to draw a digit on, and the JSON endpoint that reads it.

The page and the endpoint are a small ASGI application (Starlette, :func:`make_app`) served by
uvicorn (:func:`make_server`); both come with the ``serve`` extra (``pip install -e ".[serve]"``)
and are never imported by ``import fastnn``. Two routes:

``GET /`` (also ``/index.html``; ``HEAD`` as HTTP asks of every ``GET``)
    One page (``fastnn/serve.html``: inline CSS and JavaScript, no build step) with a canvas
    for the mouse or a finger, the answer and every class's probability as the stroke is drawn,
    a button to clear, and the 28 x 28 image the network saw.
``POST /predict``
    A JSON object ``{"width": W, "height": H, "pixels": [...], "background": "light"}``: a
    grayscale drawing, ``W * H`` numbers 0..255 row by row (``background`` is optional:
    ``auto``, ``light`` or ``dark``, as ``fastnn predict --background``). The drawing is
    prepared exactly as ``fastnn predict`` prepares an image file
    (:func:`fastnn.images.preprocess_digit`: cropped to the ink, scaled into 20 x 20, centred
    on the centre of mass in 28 x 28). The answer: ``{"label", "index", "scores", "classes",
    "kind", "image"}`` (``image``: the 28 x 28 input, 0..1, three decimals).

Every answer of the application is strict JSON (RFC 8259: no ``NaN`` or ``Infinity``) except the
page itself. Bad input never stops the server and never gets a 500: a body over :data:`MAX_BODY`
bytes is refused with 413, a POST without a length with 411, malformed JSON or a wrong drawing with
400, a blank drawing with 422, a request line or headers that break HTTP/1.1 with 400 (from the
HTTP parser), each with ``{"error": "..."}``; unknown paths give 404 and methods other than GET,
HEAD and POST 405 with an ``Allow`` header. A request must arrive whole (request line, headers and
body) within :data:`REQUEST_DEADLINE` seconds of the connection opening or of the previous answer on
it, or it gets 408 and the connection is closed: a client sending a byte now and then cannot hold a
connection. Scores that are not finite (a model whose weights overflow) are the model's fault, not
the client's: 500 with a JSON error naming it.
"""
from __future__ import annotations

import asyncio
import functools
import html
import json
import math
import pathlib
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, cast

import numpy as np

try:
    import h11
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from uvicorn.protocols.http.h11_impl import H11Protocol
except ImportError as e:  # the serve extra is optional; say how to get it
    raise ImportError(f"fastnn serve needs Starlette and uvicorn ({e}): python -m pip install -e '.[serve]' "
                      "in the fastnn source folder (or pip install starlette uvicorn)") from e

from .deprecation import RENAMED, renamed_keys

MAX_SIDE = 280
"""Largest accepted width or height of a drawing, in pixels (the page sends 140 x 140)."""

MIN_SIDE = 8
"""Smallest accepted width or height."""

MAX_BODY = 512 * 1024
"""Largest accepted request body, in bytes: room for a MAX_SIDE x MAX_SIDE drawing written as JSON."""

DRAIN_LIMIT = 4 * MAX_BODY
"""A body over MAX_BODY but within this many bytes is read and dropped before the 413 answer (a client
that is still sending would otherwise see its connection reset instead of the answer); a larger one is
refused at once, unread, and the connection closed."""

REQUEST_DEADLINE = 10.0
"""Seconds a client has to send one whole request (line, headers, body), counted from the opening of
the connection or from the end of the previous answer on it."""

KEEP_ALIVE = 5
"""Seconds an idle keep-alive connection stays open after an answer."""

MAX_CONNECTIONS = 1000
"""Open connections at most; a connection beyond them gets 503 at once and is closed."""

LINGER = 2.0
"""Seconds a refused connection is still read (and what comes dropped) after its answer, so the client
reads the answer instead of a reset."""

BACKLOG = 1024
"""Connections the kernel queues before the server accepts them (the standard library's was 5)."""

PAGE = pathlib.Path(__file__).with_name("serve.html")

__all__ = ["make_app", "make_server", "Server", "read_drawing", "RequestError", "MAX_SIDE", "MIN_SIDE",
           "MAX_BODY", "REQUEST_DEADLINE", "MAX_CONNECTIONS"]

_ALLOWED = "GET, HEAD, POST"


class RequestError(ValueError):
    """A request the server refuses: answered with ``status`` and ``{"error": message}``.

    Examples
    --------
    >>> from fastnn.server import RequestError, read_drawing
    >>> try:
    ...     read_drawing([1, 2, 3])
    ... except RequestError as e:
    ...     print(int(e.status), e)
    400 expected a JSON object {"width": W, "height": H, "pixels": [...]}
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_drawing(payload: Any, *, booleans: bool = True) -> tuple[np.ndarray, str]:
    """The grayscale drawing of a ``/predict`` request: ``(pixels (H, W) float64 in [0, 1], background)``.

    Parameters
    ----------
    payload : object
        The decoded JSON body.
    booleans : bool
        Whether ``payload`` may hold ``True`` or ``False``. Pass ``False`` only when it cannot: when
        the JSON text it was decoded from has no ``true`` or ``false`` literal (the server checks
        that). A pixel must be a number, not a boolean (``True == 1`` in Python, and NumPy takes
        it as 1); without booleans, the type of every value need not be looked at one by one.

    Raises
    ------
    RequestError
        With status 400 and a message saying what is wrong.

    Examples
    --------
    >>> from fastnn.server import read_drawing
    >>> gray, background = read_drawing({"width": 8, "height": 8, "pixels": [255] * 64, "background": "light"})
    >>> gray.shape, float(gray.max()), background
    ((8, 8), 1.0, 'light')
    >>> read_drawing({"width": 8, "height": 8, "pixels": [0] * 63})
    Traceback (most recent call last):
        ...
    fastnn.server.RequestError: pixels must be a list of width*height = 64 values, got 63 values
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
            raise RequestError(bad, f"{key} must be an integer from {MIN_SIDE} to {MAX_SIDE}, got {_short(side)}")
        sides[key] = side
    pixels = payload["pixels"]
    expected = sides["width"] * sides["height"]
    if not isinstance(pixels, list) or len(pixels) != expected:
        got = f"{len(pixels)} values" if isinstance(pixels, list) else type(pixels).__name__
        raise RequestError(bad, f"pixels must be a list of width*height = {expected} values, got {got}")
    values = _numbers(pixels, booleans)
    if values.dtype.kind == "f" and not np.isfinite(values).all():  # Python's json reads NaN, Infinity and 1e400
        raise RequestError(bad, "pixels must be numbers from 0 to 255, not NaN or infinity")
    low, high = values.min(), values.max()
    if low < 0 or high > 255:
        raise RequestError(bad, f"pixels must lie from 0 to 255, got {float(low):g} to {float(high):g}")
    background = payload.get("background", "auto")
    if background not in ("auto", "light", "dark"):
        raise RequestError(bad, f"background must be 'auto', 'light' or 'dark', got {_short(background)}")
    return values.reshape(sides["height"], sides["width"]) / 255.0, background


def _numbers(pixels: list, booleans: bool) -> np.ndarray:
    """``pixels`` (a list of ``int`` and ``float`` exactly, and nothing else) as a 1-D array of
    int64, uint64 or float64; RequestError (400) for any other value.

    Without booleans in the list, NumPy's own reading of the list tells whether it holds numbers
    only (an array of integers or floats, one dimension) in one pass. A boolean would pass as 1, so
    with booleans possible, or when NumPy's reading is anything else, each value's type is checked
    (the message names what is wrong).
    """
    if not booleans:
        try:
            values = np.array(pixels)
        except (ValueError, TypeError, OverflowError):  # lists of unequal lengths, too deep a nesting
            values = None
        if values is not None and values.ndim == 1 and values.dtype.kind in "iuf":
            return values
    bad = HTTPStatus.BAD_REQUEST
    if not set(map(type, pixels)) <= {int, float}:  # exact types: True is not a pixel (map runs at C speed)
        raise RequestError(bad, "pixels must be numbers from 0 to 255")
    try:
        return np.fromiter(pixels, dtype=np.float64, count=len(pixels))
    except OverflowError:  # an integer beyond float64, e.g. 400 digits long
        big = next(v for v in pixels if abs(v) > 1e308)
        raise RequestError(bad, f"pixels must lie from 0 to 255, got {_short(big)}") from None


def _short(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters: error messages must not echo a huge input."""
    if isinstance(value, int) and abs(value) >= 10**limit:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error(status: int, message: str, *, close: bool = False, headers: Mapping[str, str] | None = None) -> JSONResponse:
    extra = {"Cache-Control": "no-store", **(headers or {})}
    if close:  # an unread body must not be taken for the next request
        extra["Connection"] = "close"
    return JSONResponse({"error": message}, status_code=int(status), headers=extra)


def _renamed_wiring(wiring: Any) -> Any:
    """``wiring`` with a deprecated key (``output``) under its new name, warning at the caller's caller."""
    return renamed_keys(wiring, RENAMED, "wiring", kind="key", stacklevel=3) if isinstance(wiring, Mapping) else wiring


def _classifier(model: Any, n_classes: int, wiring: Mapping[str, str] | None,
                kind: str | None) -> tuple[Callable[[np.ndarray], Any], str]:
    """``(classify, kind)`` for a params dict read with ``wiring``, or for a ``classify`` callable."""
    if callable(model):
        if wiring is not None:
            raise TypeError("wiring goes with a params dict; a classify callable applies its own")
        kind = "probability" if kind is None else kind
        if kind not in ("probability", "score"):
            raise ValueError(f"kind must be 'probability' or 'score', got {kind!r}")
        return model, kind
    if not isinstance(model, Mapping):
        raise TypeError(f"model must be a params dict (with wiring=) or a callable classify(image), "
                        f"got {type(model).__name__}")
    if wiring is None:
        raise TypeError("a params dict needs its wiring: pass wiring=meta['wiring'] from fastnn.load "
                        "(the hidden activation and output activation the network was trained with)")
    names = ("activation", "output_activation")
    if not isinstance(wiring, Mapping) or not all(isinstance(wiring.get(k), str) for k in names):
        raise TypeError(f"wiring must be a dict with 'activation' and 'output_activation' names, got {wiring!r}")
    if kind is not None:
        raise TypeError("kind follows from the wiring's output activation; pass it only with a classify callable")
    from .network import predict_proba

    wired = {k: wiring[k] for k in names}
    W1 = model.get("W1")
    if not isinstance(W1, np.ndarray) or W1.ndim != 2 or W1.shape[0] != 28 * 28:
        raise ValueError(f"the network must take 784 inputs (28 x 28 pixels); its W1 is "
                         f"{getattr(W1, 'shape', None)}")
    try:  # a wrong wiring name or a broken params dict fails here, before the server starts
        with np.errstate(all="ignore"):
            probe = predict_proba(model, np.zeros((1, W1.shape[0]), dtype=W1.dtype), **wired)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"cannot run the network with wiring {wired}: {e}") from None
    if probe.shape != (1, n_classes):
        raise ValueError(f"the network gives {probe.shape[1]} scores but {n_classes} class names were given")

    def classify(image: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):  # overflow shows as non-finite scores, refused by the caller
            return predict_proba(model, image.reshape(1, -1).astype(W1.dtype, copy=False), **wired)[0]

    return classify, "probability" if wired["output_activation"] == "softmax" else "score"


def make_app(model: Any, class_names: Sequence[str], *, wiring: Mapping[str, str] | None = None,
             kind: str | None = None, title: str = "fastnn") -> Starlette:
    """The ASGI application: the drawing page at ``/`` and the JSON endpoint ``POST /predict``.

    Parameters
    ----------
    model : dict or callable
        The network's params dict (read with ``wiring``), or ``classify(image)`` returning the
        scores (one per class) of a prepared (28, 28) float32 image, called from several threads at once.
    class_names : sequence of str
        The name of each class, in the order of the scores.
    wiring : dict, optional
        With a params dict, required: ``{"activation": ..., "output_activation": ...}`` as trained,
        e.g. ``meta["wiring"]`` from :func:`fastnn.load` (other keys, such as its ``loss``, are not
        read). A softmax output's scores are shown as probabilities. The older key ``output``
        still works, with a ``DeprecationWarning``.
    kind : {'probability', 'score'}, optional
        With a ``classify`` callable only: what its scores are (default ``'probability'``).
    title : str
        Shown in the page's heading (e.g. the model's file name).

    Returns
    -------
    starlette.applications.Starlette

    Raises
    ------
    TypeError, ValueError
        A model that is neither, a missing or unknown wiring, a network that does not take 784
        pixels or gives another number of scores than ``class_names``.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> from fastnn.server import make_app
    >>> names = [str(d) for d in range(10)]
    >>> app = make_app(lambda image: np.eye(10)[7], names, title="always seven")   # a classify callable
    >>> sorted(route.path for route in app.routes)
    ['/', '/index.html', '/predict']
    >>> params = fastnn.init_params([784, 10], seed=0)
    >>> app = make_app(params, names, wiring={"activation": "relu", "output_activation": "softmax"})
    >>> make_app(params, names[:3], wiring={"activation": "relu", "output_activation": "softmax"})
    Traceback (most recent call last):
        ...
    ValueError: the network gives 10 scores but 3 class names were given
    """
    from .images import preprocess_digit

    if isinstance(class_names, str):
        class_names = list(class_names)
    names = [str(n) for n in class_names]
    if not names:
        raise ValueError("class_names is empty; give one name per score")
    classify, kind = _classifier(model, len(names), _renamed_wiring(wiring), kind)
    page = PAGE.read_text(encoding="utf-8").replace("{{TITLE}}", html.escape(str(title))).encode("utf-8")

    # The built-in network's whole answer (decoding, checks, preparation, one forward pass) is a short
    # stretch of work that holds the GIL: on a worker thread it would stall the event loop just the
    # same, plus a hand-off between threads per request (bench/serve_load.py), so it runs inline. A
    # classify callable may be slow or release the GIL: it runs on a worker thread.
    offload = callable(model)

    def predict(body: bytes) -> dict:
        try:
            text = body.decode(json.detect_encoding(body), "surrogatepass")  # as json.loads(body) decodes
            payload = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"malformed JSON: {e}") from None
        # JSON's booleans are the literals true and false alone (no escape spells them)
        gray, background = read_drawing(payload, booleans="true" in text or "false" in text)
        try:
            image = preprocess_digit(gray, background=background)
        except ValueError as e:  # a blank canvas
            raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY, str(e)) from None
        scores = np.asarray(classify(image), dtype=np.float64)
        if scores.shape != (len(names),):
            raise RuntimeError(f"the model gave {scores.shape} scores for {len(names)} classes")
        if not np.isfinite(scores).all():
            raise RequestError(HTTPStatus.INTERNAL_SERVER_ERROR,
                               "the model's scores are not finite (NaN or infinity): its weights overflow "
                               "on this input; retrain or check the model file")
        index = int(np.argmax(scores))
        return {"label": names[index], "index": index, "scores": [round(float(s), 6) for s in scores],
                "classes": names, "kind": kind, "image": np.round(image, 3).tolist()}

    async def read_body(request: Request) -> bytes:
        headers = request.headers
        if "transfer-encoding" not in headers and "content-length" not in headers:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        if "transfer-encoding" in headers and "content-length" in headers:
            raise RequestError(HTTPStatus.BAD_REQUEST, "send either Content-Length or Transfer-Encoding, not both")
        declared = int(headers["content-length"]) if "content-length" in headers else None  # h11 checked its digits
        if declared is not None and declared > DRAIN_LIMIT:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"the body has {declared} bytes; the limit is {MAX_BODY}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size <= MAX_BODY:
                chunks.append(chunk)
            elif size > DRAIN_LIMIT:
                break  # read away no more: refused and the connection closed
        if size > MAX_BODY:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"the body has {declared or f'over {MAX_BODY}'} bytes; the limit is {MAX_BODY}")
        return b"".join(chunks)

    async def show_page(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    async def answer(request: Request) -> Response:
        try:
            body = await read_body(request)
        except RequestError as e:
            return _error(e.status, str(e), close=True)
        except ClientDisconnect:  # gone (or cut off by the deadline): nobody to answer
            return Response(status_code=HTTPStatus.BAD_REQUEST)
        try:
            reply = await run_in_threadpool(predict, body) if offload else predict(body)
            return JSONResponse(reply, headers={"Cache-Control": "no-store"})
        except RequestError as e:
            return _error(e.status, str(e))
        except Exception as e:  # a failing model answers this request with 500; the server goes on
            return _error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}")

    async def http_error(request: Request, exc: Exception) -> Response:
        # Starlette types every handler as taking an Exception; this one is registered for HTTPException only
        exc = cast(HTTPException, exc)
        if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            message = ("POST a JSON drawing to /predict" if request.url.path == "/predict"
                       else "only GET / and POST /predict")
            allow = (exc.headers or {}).get("Allow", _ALLOWED)
            return _error(exc.status_code, message, close=True, headers={"Allow": allow})
        if exc.status_code == HTTPStatus.NOT_FOUND:
            what = "endpoint" if request.method == "POST" else "page"
            return _error(exc.status_code, f"no {what} {_short(request.url.path)}; the page is / and the endpoint "
                                           f"POST /predict", close=request.method == "POST")
        return _error(exc.status_code, exc.detail, close=True)

    app = Starlette(routes=[Route("/", show_page, methods=["GET"]), Route("/index.html", show_page, methods=["GET"]),
                            Route("/predict", answer, methods=["POST"])],
                    exception_handlers={HTTPException: http_error}, middleware=[Middleware(_MethodsFirst)])

    return app


class _MethodsFirst:
    """ASGI middleware: OPTIONS, TRACE, CONNECT, PUT, ... on any path (even ``*``) get 405, not 404;
    an HTTP version other than 1.0 and 1.1 (h11 parses any ``HTTP/d.d``) gets 505."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["http_version"] not in ("1.0", "1.1"):
            response = _error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"HTTP/{_short(scope['http_version'])} is not "
                              "served; use HTTP/1.1", close=True)
            return await response(scope, receive, send)
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "POST"):
            response = _error(HTTPStatus.METHOD_NOT_ALLOWED, f"{_short(scope['method'])} is not served; only "
                              "GET / and POST /predict", close=True, headers={"Allow": _ALLOWED})
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


# -- the HTTP connection: uvicorn's h11 protocol with a whole-request deadline ---------------------


def _raw_json(status: HTTPStatus, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n").encode() + body


class _DeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus: a request must arrive whole within ``deadline`` seconds; a
    connection beyond ``max_connections`` is refused; HTTP parse errors answer in JSON.

    uvicorn's own keep-alive timeout starts only after a first answer, and nothing bounds the time
    a request takes to arrive, so a client sending a header byte every few seconds would hold its
    connection forever.
    """

    def __init__(self, *args: Any, deadline: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.max_connections = max_connections
        self._timer: asyncio.TimerHandle | None = None
        self._partial = False  # bytes of the awaited request have arrived
        self._lingering = False  # answered and half-closed: input is read and dropped until the client closes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream server's loop hands every connection a Transport, which uvicorn's annotation asks for
        super().connection_made(cast(asyncio.Transport, transport))
        if len(self.connections) > self.max_connections:
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE,
                         f"the server has {self.max_connections} connections open; try again later")
            return
        self._follow()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        self._partial = True
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def eof_received(self) -> None:
        if self._lingering:
            return None  # the client read the answer and closed: asyncio closes the transport
        # the client ended its side mid-request (a body shorter than its Content-Length, headers cut
        # off): say so before closing, rather than dropping the connection
        if self._partial and self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self._answering():
            self._refuse(HTTPStatus.BAD_REQUEST, "the request ended before it was whole (a body shorter than its "
                                                 "Content-Length, or the headers cut off)")
        return None  # asyncio closes the transport

    def send_400_response(self, msg: str) -> None:
        # h11 refused the request line, a header or the chunked framing; uvicorn would answer in text
        self._refuse(HTTPStatus.BAD_REQUEST, "malformed HTTP request: the request line, a header or the chunked "
                                             "body breaks HTTP/1.1 (RFC 9112)")

    def shutdown(self) -> None:
        if self._lingering:  # h11's state is past caring; the answer is out
            self.transport.close()
        else:
            super().shutdown()

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _follow(self) -> None:
        """Run the clock while a request is awaited or arriving; stop it once it is whole."""
        if self.transport.is_closing():
            return self._stop()
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            if self._timer is None:
                self._timer = self.loop.call_later(self.deadline, self._expired)
        else:  # DONE (whole, being answered), MUST_CLOSE, CLOSED, ERROR, or a protocol switch refused
            self._stop()
            self._partial = False

    def _answering(self) -> bool:
        return self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        """Answer ``status`` in place of the application, which stops waiting for the body, and close.

        The close lingers: the answer and a FIN go out at once, and what the client still sends is
        read and dropped until it closes (at most LINGER seconds). Closing a socket with unread
        input makes the kernel send a reset, which can destroy the answer before the client reads it.
        """
        self._stop()
        self._lingering = True
        self.transport.write(_raw_json(status, message))
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.transport.resume_reading()  # flow control may have paused it mid-body
            self.loop.call_later(LINGER, self.transport.close)
        else:
            self.transport.close()

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._partial and not self._answering():
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, f"the request did not arrive whole within {self.deadline:g} s")
        else:  # idle, or an answer is being written: close without a word
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            self.transport.close()


class Server:
    """A bound server (uvicorn under the hood) with the standard library's server calls.

    ``serve_forever()`` blocks until ``shutdown()`` (from another thread) or Ctrl-C (in the main
    thread, re-raised as ``KeyboardInterrupt`` after a graceful stop); ``server_close()`` releases
    the socket. ``server_address`` is the bound ``(host, port)``.

    Examples
    --------
    Most callers get one from :func:`make_server`; built by hand, it serves an application on a
    socket that is already listening:

    >>> import socket, threading, urllib.request
    >>> import numpy as np
    >>> from fastnn.server import MAX_CONNECTIONS, REQUEST_DEADLINE, Server, make_app
    >>> app = make_app(lambda image: np.eye(10)[7], [str(d) for d in range(10)])
    >>> server = Server(app, socket.create_server(("127.0.0.1", 0)), request_deadline=REQUEST_DEADLINE,
    ...                 max_connections=MAX_CONNECTIONS)
    >>> thread = threading.Thread(target=server.serve_forever, daemon=True)
    >>> thread.start()
    >>> host, port = server.server_address[:2]
    >>> b"<canvas" in urllib.request.urlopen(f"http://{host}:{port}/", timeout=10).read()
    True
    >>> server.shutdown()
    >>> server.server_close()
    >>> thread.join(10)
    >>> thread.is_alive()
    False
    """

    def __init__(self, app: Starlette, sock: socket.socket, *, request_deadline: float,
                 max_connections: int) -> None:
        self.app = app
        self.socket = sock
        self.server_address = sock.getsockname()
        self.request_deadline = request_deadline
        protocol = functools.partial(_DeadlineProtocol, deadline=request_deadline, max_connections=max_connections)
        # uvicorn calls ``http`` to make each connection's protocol: a partial that binds the deadline
        # works as a class does, but Config annotates a class
        config = uvicorn.Config(app, http=protocol,  # type: ignore[arg-type]
                                ws="none", lifespan="off", log_config=None, log_level="error",
                                access_log=False, server_header=False, backlog=BACKLOG,
                                timeout_keep_alive=KEEP_ALIVE, timeout_graceful_shutdown=5)
        self._uvicorn = uvicorn.Server(config)
        self._stopped = threading.Event()
        self._stopped.set()
        self._lock = threading.Lock()  # a shutdown() that comes before serve_forever() still stops it

    def serve_forever(self) -> None:
        """Answer requests until :meth:`shutdown` or Ctrl-C (returns at once after a shutdown)."""
        with self._lock:
            if self._uvicorn.should_exit:  # shut down before it started
                return
            self._stopped.clear()
        try:
            self._uvicorn.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 30) -> None:
        """Stop :meth:`serve_forever` (open connections get a few seconds to finish) and wait for it."""
        with self._lock:
            self._uvicorn.should_exit = True
        self._stopped.wait(timeout)

    def server_close(self) -> None:
        """Close the listening socket."""
        self.socket.close()


def make_server(model: Any, class_names: Sequence[str], *, wiring: Mapping[str, str] | None = None,
                kind: str | None = None, host: str = "127.0.0.1", port: int = 0, title: str = "fastnn",
                request_deadline: float = REQUEST_DEADLINE, max_connections: int = MAX_CONNECTIONS) -> Server:
    """A server of :func:`make_app`'s page and endpoint, bound to ``host:port`` but not yet serving.

    Parameters
    ----------
    model, class_names, wiring, kind, title
        As :func:`make_app`. From a model file: ``params, meta = fastnn.load(path)``, then
        ``make_server(params, names, wiring=meta["wiring"])``.
    host : str
        Address to bind; the default, 127.0.0.1, is reachable from this machine only.
    port : int
        Port to bind; 0 picks a free one (read it back from ``server.server_address``).
    request_deadline : float
        Seconds a client has to send one whole request (see :data:`REQUEST_DEADLINE`).
    max_connections : int
        Open connections at most; more get 503.

    Returns
    -------
    Server
        Call ``serve_forever()`` (and ``shutdown()`` from another thread, then ``server_close()``).

    Raises
    ------
    OSError
        The address cannot be bound (port in use, no such address, permission).

    Examples
    --------
    >>> import json, threading, urllib.request
    >>> import fastnn
    >>> from fastnn.server import make_server
    >>> params = fastnn.init_params([784, 10], seed=0)
    >>> server = make_server(params, [str(d) for d in range(10)], wiring={"activation": "relu", "output_activation": "softmax"},
    ...                      host="127.0.0.1", port=0)
    >>> thread = threading.Thread(target=server.serve_forever, daemon=True)
    >>> thread.start()
    >>> host, port = server.server_address[:2]
    >>> stroke = {"width": 8, "height": 8, "pixels": [0] * 27 + [255] * 10 + [0] * 27}
    >>> request = urllib.request.Request(f"http://{host}:{port}/predict", data=json.dumps(stroke).encode(),
    ...                                  headers={"Content-Type": "application/json"})
    >>> answer = json.load(urllib.request.urlopen(request, timeout=10))
    >>> answer["kind"], len(answer["scores"]), round(sum(answer["scores"]), 3), len(answer["image"])
    ('probability', 10, 1.0, 28)
    >>> server.shutdown()
    >>> server.server_close()
    >>> thread.join(10)
    >>> thread.is_alive()
    False
    """
    if isinstance(request_deadline, bool) or not isinstance(request_deadline, (int, float)) \
            or not 0 < request_deadline < math.inf:
        raise ValueError(f"request_deadline must be a positive number of seconds, got {request_deadline!r}")
    if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
        raise ValueError(f"max_connections must be a positive integer, got {max_connections!r}")
    app = make_app(model, class_names, wiring=_renamed_wiring(wiring), kind=kind, title=title)
    family, kind_, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return Server(app, sock, request_deadline=request_deadline, max_connections=max_connections)

