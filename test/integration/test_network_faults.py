"""Network faults (issue 10), each against a real server on 127.0.0.1 that misbehaves on purpose (test/lib/rawhttp.py).

Every case serves a good first page (3 records, a Link to page 2) and the fault on page 2, so that each one also shows
that what committed stays: the table holds page 1, the watermark is page 1's, and a second run (the server behaving)
loads the rest. Each fault is retried or fails cleanly within its configured bounds (asserted in seconds), and the
error names the URL and what went wrong. The table of these cases is in docs/reliability.md.
"""

import email.utils
import gzip
import json
import re
import socket
import ssl
import subprocess
import threading
import time

import psycopg
import pytest

from rawhttp import (RawServer, drip, never_answer, ok, raw, reset_after, short_body, stall_after, status)
from testdata import ORDER_COLUMNS, closed_port, orders, tsval


def ndjson(records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


PAGE1 = orders(range(1, 4))
PAGE2 = orders(range(4, 7))


class Faulty:
    """A RawServer whose page 1 is good and whose page 2 (/p2) is the fault until fixed."""

    def __init__(self, *fault_steps):
        self.srv = RawServer([None]).start()
        self.page1 = ok(ndjson(PAGE1), headers={"Link": '<%s>; rel="next"' % self.srv.url("/p2")})
        self.srv.steps = [self.page1] + list(fault_steps)  # the last one repeats

    def url(self):
        return self.srv.url("/p1")

    def page2_requests(self):
        return sum(1 for _, line in self.srv.requests if " /p2 " in line)

    def fix(self):
        """From now on every request is answered well: page 1 again (since the watermark: nothing), then page 2."""
        good2 = ok(ndjson(PAGE2))
        self.srv.steps = [lambda s, l: (good2 if " /p2 " in l else self.page1)(s, l)]
        with self.srv.lock:
            self.srv.requests.clear()

    def stop(self):
        self.srv.stop()


def register(db, name, url, **options):
    opts = {"max_retries": 1}
    opts.update(options)
    db.register(name, url, "public." + name, ORDER_COLUMNS, high_watermark_column="updated_at", options=opts)


def run_fails(db, name, within):
    """Runs the source, which must fail within `within` seconds; returns (message, run row, seconds)."""
    conn = db.connect()
    conn.execute("SET statement_timeout = '%ds'" % (within + 20))
    started = time.monotonic()
    with pytest.raises(psycopg.Error) as e:
        db.run(name, conn=conn)
    elapsed = time.monotonic() - started
    msg = str(e.value)
    assert "statement timeout" not in msg, msg
    assert elapsed < within, "took %.1f s (bound %d s): %s" % (elapsed, within, msg)
    return msg, db.last_run(name), elapsed


def assert_page1_kept(db, name):
    assert [r["id"] for r in db.query("SELECT id FROM public.%s ORDER BY id" % name)] == [1, 2, 3]
    assert db.watermark(name, as_type="timestamptz") == tsval(3)


def assert_recovers(db, name, faulty):
    faulty.fix()
    run = db.run(name)
    # This server ignores the watermark: page 1 comes again whole, and the upserts keep each row once.
    assert run["status"] == "succeeded" and run["rows"] == 6, run
    assert [r["id"] for r in db.query("SELECT id FROM public.%s ORDER BY id" % name)] == [1, 2, 3, 4, 5, 6]


@pytest.fixture
def faulty():
    made = []

    def make(*steps):
        f = Faulty(*steps)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


def test_connection_refused(db):
    port = closed_port()
    url = "http://127.0.0.1:%d/x" % port
    register(db, "nf_refused", url)
    msg, run, elapsed = run_fails(db, "nf_refused", within=5)
    assert url in msg and re.search(r"(?i)refused|connect", msg), msg
    assert "max_retries 1" in msg and run["status"] == "failed"


def test_a_server_that_accepts_and_never_answers(db, faulty):
    f = faulty(never_answer(30))
    register(db, "nf_silent", f.url(), timeout_ms=1500)
    msg, run, elapsed = run_fails(db, "nf_silent", within=8)  # two attempts of 1.5 s and a backoff
    assert f.srv.url("/p2") in msg and re.search(r"(?i)timed? ?out", msg), msg
    assert f.page2_requests() == 2
    assert_page1_kept(db, "nf_silent")
    assert_recovers(db, "nf_silent", f)


def test_headers_then_a_stall_in_the_middle_of_the_body(db, faulty):
    f = faulty(stall_after(ndjson(PAGE2)[:40], seconds=30))
    register(db, "nf_stall", f.url(), timeout_ms=1500)
    msg, run, elapsed = run_fails(db, "nf_stall", within=8)
    assert f.srv.url("/p2") in msg and re.search(r"(?i)timed? ?out", msg), msg
    assert "line 1" in msg  # no line of page 2 was complete
    assert_page1_kept(db, "nf_stall")
    assert_recovers(db, "nf_stall", f)


def test_a_drip_of_one_byte_a_second_is_bounded_by_timeout_ms(db, faulty):
    # A drip stays above the stall detection (1 byte/s for 60 s): only a request timeout bounds it.
    f = faulty(drip(ndjson(PAGE2), interval=1.0))
    register(db, "nf_drip", f.url(), timeout_ms=2500, max_retries=0)
    msg, run, elapsed = run_fails(db, "nf_drip", within=6)
    assert f.srv.url("/p2") in msg and re.search(r"(?i)timed? ?out", msg), msg
    assert elapsed >= 2.0
    assert_page1_kept(db, "nf_drip")
    assert_recovers(db, "nf_drip", f)


def test_a_reset_in_the_middle_of_the_body(db, faulty):
    body = ndjson(PAGE2)
    f = faulty(reset_after(body[:len(body) // 2 + 10]))
    register(db, "nf_reset", f.url())
    msg, run, elapsed = run_fails(db, "nf_reset", within=6)
    assert f.srv.url("/p2") in msg and re.search(r"(?i)reset|recv|broke off", msg), msg
    assert re.search(r"\bline 2\b", msg), msg  # line 1 of page 2 had arrived whole
    assert f.page2_requests() == 2  # retried once (max_retries 1), from the start of the page
    assert_page1_kept(db, "nf_reset")
    assert_recovers(db, "nf_reset", f)


def test_a_body_shorter_than_its_content_length(db, faulty):
    body = ndjson(PAGE2)
    f = faulty(short_body(body[:-5], claimed=len(body)))
    register(db, "nf_short", f.url(), max_retries=2)
    msg, run, elapsed = run_fails(db, "nf_short", within=8)
    assert f.srv.url("/p2") in msg and "broke off" in msg and "max_retries 2" in msg, msg
    assert f.page2_requests() == 3
    assert re.search(r"\bline 3\b", msg), msg
    assert_page1_kept(db, "nf_short")
    assert_recovers(db, "nf_short", f)


def test_malformed_chunked_encoding(db, faulty):
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n")
    line = ndjson(PAGE2[:1])
    f = faulty(raw(head + b"%x\r\n%s\r\nzz-not-hex\r\nmore\r\n" % (len(line), line)))
    register(db, "nf_chunked", f.url())
    msg, run, elapsed = run_fails(db, "nf_chunked", within=6)
    assert f.srv.url("/p2") in msg and re.search(r"(?i)chunk", msg), msg
    assert re.search(r"\bline 2\b", msg), msg
    assert_page1_kept(db, "nf_chunked")
    assert_recovers(db, "nf_chunked", f)


def test_a_gzip_body_corrupt_halfway(db, faulty):
    body = gzip.compress(ndjson(orders(range(4, 400))))
    corrupt = body[:len(body) // 2] + bytes(b ^ 0x5A for b in body[len(body) // 2:])
    head = ("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Encoding: gzip\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(corrupt)).encode()
    f = faulty(raw(head + corrupt))
    register(db, "nf_gzip", f.url(), max_retries=0)
    msg, run, elapsed = run_fails(db, "nf_gzip", within=6)
    assert f.srv.url("/p2") in msg and re.search(r"(?i)encoding|inflate|gzip|decompress", msg), msg
    assert_page1_kept(db, "nf_gzip")  # the rows of page 2 that did decode are not kept
    assert_recovers(db, "nf_gzip", f)


def test_a_storm_of_503s_past_max_retries(db, faulty):
    f = faulty(status(503, b"busy\n"))
    register(db, "nf_storm", f.url(), max_retries=2)
    msg, run, elapsed = run_fails(db, "nf_storm", within=8)  # backoff: up to 1 s, then up to 2 s
    assert f.srv.url("/p2") in msg and "503" in msg and "gave up after 2 retries (max_retries 2)" in msg, msg
    assert f.page2_requests() == 3
    assert len([l for l in run["attempts"].splitlines() if "/p2" in l]) == 3, run["attempts"]
    assert_page1_kept(db, "nf_storm")
    assert_recovers(db, "nf_storm", f)


def test_a_storm_of_500s_alternating_with_resets(db, faulty):
    f = faulty(*[status(500, b"oops\n"), reset_after(ndjson(PAGE2)[:20])] * 10)
    register(db, "nf_storm2", f.url(), max_retries=3)
    msg, run, elapsed = run_fails(db, "nf_storm2", within=20)  # backoff: up to 1, 2, 4 s
    assert f.srv.url("/p2") in msg and "max_retries 3" in msg, msg
    assert f.page2_requests() == 4
    assert_page1_kept(db, "nf_storm2")


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_with_retry_after(db, faulty, form):
    def answer(sock, line):
        value = "2" if form == "seconds" else email.utils.formatdate(time.time() + 2.5, usegmt=True)
        status(429, b"slow down\n", headers={"Retry-After": value})(sock, line)

    f = faulty(answer, ok(ndjson(PAGE2)))
    register(db, "nf_429", f.url(), max_retries=2)
    started = time.monotonic()
    run = db.run("nf_429")
    waited = time.monotonic() - started
    assert run["status"] == "succeeded" and run["rows"] == 6, run
    assert 1.4 <= waited < 8, "Retry-After (%s) not honoured: %.1f s" % (form, waited)
    assert "429" in run["attempts"] and "Retry-After" in run["attempts"], run["attempts"]


def test_a_redirect_loop(db, faulty):
    def loop(sock, line):
        status(302, b"", headers={"Location": "/p2"})(sock, line)

    f = faulty(loop)
    register(db, "nf_loop", f.url())
    msg, run, elapsed = run_fails(db, "nf_loop", within=6)
    assert "/p2" in msg and re.search(r"(?i)redirect", msg), msg
    assert f.page2_requests() <= 12  # the redirect limit, not retried
    assert_page1_kept(db, "nf_loop")


def test_a_body_larger_than_max_response_bytes(db, faulty):
    f = faulty(ok(ndjson(orders(range(4, 200)))))
    register(db, "nf_big", f.url(), max_response_bytes=2000)
    msg, run, elapsed = run_fails(db, "nf_big", within=5)
    assert "larger than the maximum of 2000 bytes" in msg and "/p2" in msg, msg
    assert f.page2_requests() == 1  # not retried: it would only be as large again
    assert_page1_kept(db, "nf_big")


# ---- TLS with a certificate that must be refused -----------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_certs(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and one for another name, made with openssl."""
    d = tmp_path_factory.mktemp("certs")
    made = {}
    for name, subject, san in (("self_signed", "/CN=127.0.0.1", "IP:127.0.0.1"),
                               ("wrong_name", "/CN=elsewhere.invalid", "DNS:elsewhere.invalid")):
        key, crt = str(d / (name + ".key")), str(d / (name + ".crt"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "2", "-subj", subject, "-addext", "subjectAltName=" + san],
                       check=True, capture_output=True)
        made[name] = (crt, key)
    return made


class TlsServer:
    """An HTTPS server on 127.0.0.1 with the given certificate, answering every request with one NDJSON page."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        self.stopping = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.handshakes += 1
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(4096)
                    ok(ndjson(PAGE1))(tls, "")
            except (ssl.SSLError, OSError):
                pass  # the client refused the certificate

    def stop(self):
        self.stopping = True
        self.sock.close()


# Both are self-signed (no CA of the system trusts them); the second also names another host.
@pytest.mark.parametrize("which", ["self_signed", "wrong_name"])
def test_a_tls_server_with_a_bad_certificate_is_refused_and_not_retried(db, bad_certs, which):
    srv = TlsServer(*bad_certs[which])
    try:
        url = "https://127.0.0.1:%d/x" % srv.port
        register(db, "nf_tls", url, max_retries=3)
        msg, run, elapsed = run_fails(db, "nf_tls", within=5)
        assert url in msg and re.search(r"(?i)certificate|SSL", msg), msg
        assert "TLS verification failure is not retried" in msg, msg
        assert srv.handshakes == 1
        assert db.count("public.nf_tls") == 0
    finally:
        srv.stop()
