"""Load test of ``fastnn serve`` on 127.0.0.1: concurrency, keep-alive, slow clients, malformed requests.

    python bench/serve_load.py                   # starts its own server in a child process
    python bench/serve_load.py --quick           # fewer requests: checks the script, measures nothing
    python bench/serve_load.py --url http://127.0.0.1:8000/   # a server already running (loopback only)

Scenarios (the goals of issue 32, point 1):

concurrent
    2,000 ``POST /predict`` of the page's 140 x 140 drawing over 50 threads, a new connection each:
    0 errors, p99 at most 250 ms.
large
    300 drawings of 280 x 280 (about 300 KB of JSON each) over 100 threads, a connection each: 0 errors.
keep-alive
    200 drawings one after another over one keep-alive connection: median at most 5 ms.
slow clients
    300 connections each sending one header byte every 2 s, while 50 drawings are sent over 10
    threads: the 50 get answers with p99 at most 500 ms, and every slow connection is cut off by the
    server's whole-request deadline (10 s by default) rather than held.
malformed
    Requests with broken headers or bodies: each gets a 4xx answer, none a dropped connection or a 5xx.

Every loop is bounded in count and in time, and the script stops by itself. Client and server share
the machine: the latencies include the client's own threads, so run it on an otherwise idle
machine (``uptime`` first). It prints a table and writes ``bench/results/serve_load.json``
(figures, command, versions, CPU, date, load averages before and after).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import http.client
import ipaddress
import json
import os
import pathlib
import platform
import selectors
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results" / "serve_load.json"

GOALS = {"concurrent": "0 errors, p99 <= 250 ms", "large": "0 errors",
         "keep-alive": "median <= 5 ms", "slow clients": "0 errors, p99 <= 500 ms, every slow client cut off",
         "malformed": "every answer a 4xx, none dropped"}


# -- the server under test ------------------------------------------------------------------------


def run_server(deadline: float) -> None:
    """Child process: a 784-128-10 network (random weights: the cost of an answer, not its accuracy)."""
    import fastnn
    from fastnn.server import make_server

    params = fastnn.init_params([784, 128, 10], seed=0)
    server = make_server(params, [str(k) for k in range(10)], wiring={"activation": "relu", "output_activation": "softmax"},
                         host="127.0.0.1", port=0, title="serve_load", request_deadline=deadline)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def start_server(deadline: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, __file__, "--child-server", "--deadline", str(deadline)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # the child prints its port once it listens
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, int(line.split()[1])


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of process ``pid`` (all its threads) from /proc, or None."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


# -- requests -------------------------------------------------------------------------------------


def drawing_body(side: int, seed: int = 0) -> bytes:
    """A dark stroke on white, side x side, as the page sends it."""
    rng = np.random.default_rng(seed)
    gray = np.full((side, side), 255, dtype=np.int64)
    top, left = (int(v) for v in rng.integers(side // 14, side // 4, size=2))
    gray[top : top + side // 12, left : left + side // 2] = 0
    for r in range(top, top + side * 2 // 3):
        c = left + side // 2 - (r - top) // 3
        gray[r, max(c - side // 25, 0) : c + side // 25] = 0
    return json.dumps({"width": side, "height": side, "pixels": gray.ravel().tolist(),
                       "background": "light"}).encode()


def post(host: str, port: int, body: bytes, timeout: float = 30) -> tuple[float, str | None]:
    """``(seconds, error or None)`` of one ``POST /predict`` on a new connection."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            return time.perf_counter() - started, f"HTTP {response.status}"
        json.loads(data)
        return time.perf_counter() - started, None
    except (OSError, http.client.HTTPException, ValueError) as e:
        return time.perf_counter() - started, type(e).__name__
    finally:
        conn.close()


def summary(times: list[float], errors: list[str], wall: float) -> dict:
    ms = np.array(times) * 1e3
    kinds: dict[str, int] = {}
    for e in errors:
        kinds[e] = kinds.get(e, 0) + 1
    return {"requests": len(times), "errors": len(errors), "error_kinds": kinds, "seconds": round(wall, 3),
            "throughput_per_s": round(len(times) / wall, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 2)}


def many_posts(host: str, port: int, body: bytes, n: int, threads: int) -> dict:
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(lambda _: post(host, port, body), range(n)))
    wall = time.perf_counter() - started
    return summary([t for t, _ in results], [e for _, e in results if e], wall)


def keep_alive(host: str, port: int, body: bytes, n: int) -> dict:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.connect()
    local = conn.sock.getsockname()
    times, errors, reconnects = [], [], 0
    started = time.perf_counter()
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(f"HTTP {response.status}")
            except (OSError, http.client.HTTPException) as e:
                errors.append(type(e).__name__)
                conn.close()
            times.append(time.perf_counter() - t0)
            if conn.sock is None or conn.sock.getsockname() != local:
                reconnects += 1
                conn.connect()
                local = conn.sock.getsockname()
    finally:
        conn.close()
    return {**summary(times, errors, time.perf_counter() - started), "reconnections": reconnects}


def slow_clients(host: str, port: int, body: bytes, n_slow: int, every: float, n_normal: int, threads: int,
                 give_up: float) -> dict:
    """``n_slow`` connections sending a header byte every ``every`` s while ``n_normal`` drawings go in."""
    head = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
    selector = selectors.DefaultSelector()
    opened = time.monotonic()
    slow, refused = [], 0
    for _ in range(n_slow):
        try:
            sock = socket.create_connection((host, port), timeout=10)
        except OSError:
            refused += 1
            continue
        sock.setblocking(False)
        slow.append({"sock": sock, "sent": 0, "opened": time.monotonic(), "closed": None, "answer": b""})
        selector.register(sock, selectors.EVENT_READ, slow[-1])
    stop = threading.Event()

    def trickle():  # one thread drives every slow connection: a byte each, every `every` seconds
        next_round = time.monotonic()
        while not stop.is_set() and time.monotonic() - opened < give_up:
            now = time.monotonic()
            if now >= next_round:
                next_round += every
                for c in slow:
                    if c["closed"] is None and c["sent"] < len(head):
                        try:
                            c["sent"] += c["sock"].send(head[c["sent"] : c["sent"] + 1])
                        except OSError:
                            c["closed"] = time.monotonic()
            for key, _ in selector.select(timeout=0.05):
                c = key.data
                try:
                    chunk = c["sock"].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if chunk:
                    c["answer"] += chunk
                if not chunk and c["closed"] is None:
                    c["closed"] = time.monotonic()
                    selector.unregister(c["sock"])
            if all(c["closed"] is not None for c in slow):
                break

    driver = threading.Thread(target=trickle)
    driver.start()
    time.sleep(min(2 * every, 3))  # the slow ones are all in the middle of their headers
    normal = many_posts(host, port, body, n_normal, threads)
    driver.join(give_up + 5)
    stop.set()
    driver.join()
    for c in slow:
        c["sock"].close()
    selector.close()
    held = [c["closed"] - c["opened"] for c in slow if c["closed"] is not None]
    return {"normal": normal, "slow_connections": n_slow, "refused_at_connect": refused,
            "slow_cut_off": len(held), "slow_answered_408": sum(c["answer"].startswith(b"HTTP/1.1 408") for c in slow),
            "slow_held_median_s": round(float(np.median(held)), 2) if held else None,
            "slow_held_max_s": round(float(max(held)), 2) if held else None,
            "byte_every_s": every, "gave_up_after_s": give_up}


MALFORMED = {
    "Content-Length: superscript two": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\n{}",
    "Content-Length: Arabic-Indic 1": "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: \u0661\r\n\r\n{}".encode(),
    "Content-Length: 5,000 digits": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
    "Content-Length: -5": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "two Content-Lengths": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "no Content-Length": b"POST /predict HTTP/1.1\r\nHost: x\r\n\r\n",
    "100 MB announced": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n",
    "pixel of 400 digits": (b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s' % (
        (lambda b: (len(b), b))(b'{"width": 8, "height": 8, "pixels": [' + b"0," * 63 + b"9" * 400 + b"]}"))),
    "malformed JSON": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{nope",
    "no Host": b"GET / HTTP/1.1\r\n\r\n",
    "garbage request line": b"GARBAGE\r\n\r\n",
    "non-ASCII path": b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad chunk size": b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "HEAD /predict": b"HEAD /predict HTTP/1.1\r\nHost: x\r\n\r\n",
    "OPTIONS *": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "TRACE /": b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n",
    "CONNECT": b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n",
    "PUT /predict": b"PUT /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
}


def malformed(host: str, port: int) -> dict:
    answers = {}
    for name, data in MALFORMED.items():
        with socket.create_connection((host, port), timeout=15) as sock:
            try:
                sock.sendall(data)
                head = sock.recv(65536).split(b"\r\n", 1)[0]
                answers[name] = head.decode("latin-1") or "dropped (no answer)"
            except OSError as e:
                answers[name] = f"dropped ({type(e).__name__})"
    status = {name: a.split()[1] if a.startswith("HTTP/") else a[:40] for name, a in answers.items()}
    bad = {name: s for name, s in status.items() if not (s.isdigit() and 400 <= int(s) < 500)}
    return {"requests": len(status), "errors": len(bad), "not_4xx": bad, "statuses": status}


# -- the run --------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for name in ("fastnn", "numpy", "starlette", "uvicorn", "h11"):
        try:
            versions[name] = __import__(name).__version__
        except (ImportError, AttributeError):
            versions[name] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "versions": versions}


def table(results: dict) -> str:
    rows = [("scenario", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms", "server CPU ms/req", "goal",
             "met")]
    for name, r in results["scenarios"].items():
        s = r["normal"] if name == "slow clients" else r
        rows.append((name, str(s["requests"]), str(s["errors"]), str(s.get("throughput_per_s", "")),
                     str(s.get("p50_ms", "")), str(s.get("p99_ms", "")), str(s.get("max_ms", "")),
                     str(r.get("server_cpu_ms_per_request", "")), GOALS[name],
                     "yes" if results["goals_met"][name] else "NO"))
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    slow = results["scenarios"].get("slow clients")
    if slow:
        lines.append(f"slow clients: {slow['slow_cut_off']} of {slow['slow_connections']} cut off "
                     f"({slow['slow_answered_408']} with 408), held {slow['slow_held_median_s']} s median, "
                     f"{slow['slow_held_max_s']} s at most")
    bad = results["scenarios"].get("malformed", {}).get("not_4xx")
    if bad:
        lines.append(f"malformed requests not answered with a 4xx: {bad}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server to test (127.0.0.1 / localhost only); "
                                      "default: start fastnn.server in a child process")
    parser.add_argument("--server-pid", type=int, default=None,
                        help="with --url: the server's process id, to report its CPU time per request")
    parser.add_argument("--only", action="append", choices=list(GOALS), default=None,
                        help="run only this scenario (repeatable)")
    parser.add_argument("--deadline", type=float, default=None,
                        help="the child server's whole-request deadline in seconds (default: fastnn.server's)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests and 30 slow clients")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS, help="results file (default: %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--child-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_server:
        run_server(args.deadline)
        return 0

    proc = None
    if args.url:
        url = urllib.parse.urlsplit(args.url)
        host, port = url.hostname or "", url.port or 80
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            parser.error(f"--url must be on this machine (127.0.0.1 or localhost), got {host!r}")
        deadline = args.deadline
    else:
        from fastnn.server import REQUEST_DEADLINE

        deadline = args.deadline or REQUEST_DEADLINE
        proc, port = start_server(deadline)
        host = "127.0.0.1"
    scale = 10 if args.quick else 1
    give_up = (deadline or 10) + 15  # the slow scenario ends by then, cut off or not
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    scenarios = {}
    try:
        small, large = drawing_body(140), drawing_body(280, seed=1)
        _, error = post(host, port, small)  # warm up: first compilation and imports in the server
        if error:
            raise SystemExit(f"no answer from http://{host}:{port}/predict: {error}")
        runs = {"concurrent": lambda: many_posts(host, port, small, 2000 // scale, 50),
                "large": lambda: many_posts(host, port, large, 300 // scale, 100),
                "keep-alive": lambda: keep_alive(host, port, small, 200 // scale),
                "slow clients": lambda: slow_clients(host, port, small, 300 // scale, 2.0, 50, 10, give_up),
                "malformed": lambda: malformed(host, port)}
        server_pid = proc.pid if proc is not None else args.server_pid
        for name, run in runs.items():
            if args.only and name not in args.only:
                continue
            cpu = cpu_seconds(server_pid)
            scenarios[name] = run()
            if cpu is not None and scenarios[name].get("requests"):
                # the server's CPU time per answer: less at the mercy of other processes than wall times
                used = cpu_seconds(server_pid) - cpu
                scenarios[name]["server_cpu_ms_per_request"] = round(1e3 * used / scenarios[name]["requests"], 2)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    checks = {
        "concurrent": lambda r: r["errors"] == 0 and r["p99_ms"] <= 250,
        "large": lambda r: r["errors"] == 0,
        "keep-alive": lambda r: r["errors"] == 0 and r["p50_ms"] <= 5,
        "slow clients": lambda r: r["normal"]["errors"] == 0 and r["normal"]["p99_ms"] <= 500
                                  and r["slow_cut_off"] == r["slow_connections"] - r["refused_at_connect"] > 0,
        "malformed": lambda r: r["errors"] == 0,
    }
    met = {name: checks[name](r) for name, r in scenarios.items()}
    results = {"command": " ".join(["python", "bench/serve_load.py", *sys.argv[1:]]),
               "date": started.isoformat(timespec="seconds"), **machine(),
               "load_average_before": [round(v, 2) for v in load_before],
               "load_average_after": [round(v, 2) for v in os.getloadavg()],
               "server": args.url or "fastnn.server.make_server (uvicorn + Starlette), child process",
               "request_deadline_s": deadline, "quick": args.quick,
               "goals": GOALS, "goals_met": met, "scenarios": scenarios}
    print(table(results))
    print(f"load average {results['load_average_before']} before, {results['load_average_after']} after; "
          f"{results['cores']} cores, {results['cpu']}")
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
