"""``fastnn serve``: a local page to draw digits on, read by a saved model (see :mod:`fastnn.server`)."""
from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from .common import (EXIT_OK, CommandError, class_names, load_model, model_argument, port,
                     say, scores_of)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run(args: argparse.Namespace) -> int:
    try:
        from ..images import require_pillow
        from ..server import make_server

        require_pillow()  # the drawing is prepared with Pillow, as fastnn predict prepares files
    except ImportError as e:
        raise CommandError(str(e), prog="fastnn serve") from None
    params, meta = load_model(args.model, prog="fastnn serve")
    kind = "probability" if meta["wiring"]["output_activation"] == "softmax" else "score"
    try:
        server = make_server(lambda image: scores_of(params, meta, image), class_names(meta), host=args.host,
                             port=args.port, title=os.path.basename(args.model), kind=kind)
    except OSError as e:  # port in use, address not available, permission
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}", prog="fastnn serve") from None
    host, bound = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    say(f"serving {args.model} at http://{shown}:{bound}/ (Ctrl-C to stop)")
    if not _is_loopback(host):
        say(f"note: {host} is reachable from other machines; anyone who can reach it can use the page",
            file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.server_close()
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("serve", help="a local web page to draw digits on, read by the model as you draw",
                       description="Serve a page with a canvas: draw a digit with the mouse or a finger and see the "
                                   "network's answer, every class's probability and the 28x28 image it saw (prepared "
                                   "as fastnn predict prepares image files). One JSON endpoint, POST /predict.")
    model_argument(s)
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s, this machine only)")
    s.add_argument("--port", type=port, default=8000, help="port; 0 picks a free one (default: %(default)s)")
    s.set_defaults(run=run)
