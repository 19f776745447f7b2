"""A TCP server on 127.0.0.1 that answers HTTP requests byte by byte as a test scripts it: the faults a well-behaved
HTTP library never produces (a body shorter than its Content-Length, a stall or a reset in the middle of a body,
malformed chunked encoding, a drip of one byte a second, ...).

    with RawServer([short_body(b'{"id": 1}\\n', claimed=1000), ok(b'{"id": 1}\\n')]) as srv:
        srv.url("/x")          # http://127.0.0.1:<port>/x
        srv.requests           # [(monotonic time, request line), ...]

Each accepted connection reads one request head and then runs the next step of the script (the last step repeats,
or with cycle=True the script starts over). A step is a function step(sock, request_line); it writes what it likes
and returns; the connection is then closed (each step closes its connection, so every request is a new one).
Standard library only.
"""

import socket
import struct
import threading
import time


class RawServer:
    def __init__(self, steps, cycle=False, host="127.0.0.1"):
        self.steps = list(steps)
        self.cycle = cycle
        self.requests = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="rawhttp", daemon=True)
        self.conns = []

    def url(self, path="/"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self.conns):
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def count(self):
        with self.lock:
            return len(self.requests)

    def _next_step(self):
        with self.lock:
            n = len(self.requests)
        if self.cycle:
            return self.steps[(n - 1) % len(self.steps)]
        return self.steps[min(n - 1, len(self.steps) - 1)]

    def _serve(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            with self.lock:
                self.requests.append((time.monotonic(), line))
            self._next_step()(conn, line)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            if conn in self.conns:
                self.conns.remove(conn)


# ---- steps ------------------------------------------------------------------------------------------------------

def _head(status=200, headers=None, reason=None):
    reasons = {200: "OK", 301: "Moved Permanently", 302: "Found", 429: "Too Many Requests",
               500: "Internal Server Error", 503: "Service Unavailable"}
    lines = ["HTTP/1.1 %d %s" % (status, reason or reasons.get(status, "Status"))]
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def ok(body, content_type="application/x-ndjson", headers=None):
    """A complete, correct response."""
    def step(sock, line):
        h = {"Content-Type": content_type, "Content-Length": str(len(body))}
        h.update(headers or {})
        sock.sendall(_head(200, h) + body)
    return step


def status(code, body=b"error\n", headers=None):
    def step(sock, line):
        h = {"Content-Type": "text/plain", "Content-Length": str(len(body))}
        h.update(headers or {})
        sock.sendall(_head(code, h) + body)
    return step


def short_body(body, claimed):
    """A 200 whose Content-Length (claimed) is longer than the body it sends before closing."""
    def step(sock, line):
        sock.sendall(_head(200, {"Content-Type": "application/x-ndjson", "Content-Length": str(claimed)}) + body)
    return step


def stall_after(body, seconds, claimed=None):
    """Headers and body (a prefix of the response), then silence for `seconds` before closing."""
    def step(sock, line):
        sock.sendall(_head(200, {"Content-Type": "application/x-ndjson",
                                 "Content-Length": str(claimed or len(body) + 1000)}) + body)
        time.sleep(seconds)
    return step


def never_answer(seconds):
    """Accepts the request and says nothing for `seconds`."""
    def step(sock, line):
        time.sleep(seconds)
    return step


def reset_after(body, claimed=None):
    """Headers and part of the body, then a TCP reset (RST, not FIN)."""
    def step(sock, line):
        sock.sendall(_head(200, {"Content-Type": "application/x-ndjson",
                                 "Content-Length": str(claimed or len(body) + 1000)}) + body)
        time.sleep(0.05)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return step


def drip(body, interval, content_type="application/x-ndjson"):
    """The body one byte every `interval` seconds (with a Content-Length)."""
    def step(sock, line):
        sock.sendall(_head(200, {"Content-Type": content_type, "Content-Length": str(len(body))}))
        for i in range(len(body)):
            sock.sendall(body[i:i + 1])
            time.sleep(interval)
    return step


def raw(data, then_sleep=0.0):
    """Exactly these bytes (head included), then the connection is closed."""
    def step(sock, line):
        sock.sendall(data)
        if then_sleep:
            time.sleep(then_sleep)
    return step
