"""Streaming (issue 5): compressed bodies, and a huge JSON array loaded with the backend's memory flat."""

import gzip
import json
import os
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

COLUMNS = [{"name": "id", "type": "bigint"}, {"name": "name", "type": "text"}, {"name": "meta", "type": "jsonb"}]
HUGE_RECORDS = int(os.environ.get("PG_BULK_INGEST_HUGE_RECORDS", "1500000"))  # ~135 MB of JSON


@pytest.mark.parametrize("encoding, compress", [("gzip", gzip.compress), ("deflate", zlib.compress)])
def test_gzip_and_deflate_bodies(db, server, encoding, compress):
    body = "".join(json.dumps({"id": i, "name": "n%d" % i}) + "\n" for i in range(1, 501)).encode()
    compressed = compress(body)
    assert len(compressed) < len(body) // 3
    server.add_route("/z", compressed, headers={"Content-Encoding": encoding})
    db.register("z", server.url("/z"), "public.z", COLUMNS[:2])
    run = db.run("z")
    assert run["rows"] == 500 and run["bytes"] == len(body)  # bytes count the decoded body
    assert db.scalar("SELECT count(DISTINCT id) FROM public.z") == 500
    assert db.scalar("SELECT name FROM public.z WHERE id = 500") == "n500"
    assert server.requests[-1].headers.get("Accept-Encoding"), "the request did not offer compressed encodings"


class HugeArray(BaseHTTPRequestHandler):
    """Streams {"data": [record, record, ...]} of HUGE_RECORDS records, generated on the fly (chunked)."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        chunk(b'{"data": [')
        batch = []
        for i in range(1, HUGE_RECORDS + 1):
            rec = '{"id": %d, "name": "record number %d", "meta": {"tags": ["a", "b"], "n": %d}}' % (i, i, i)
            batch.append(rec if i == 1 else "," + rec)
            if len(batch) == 2000:
                chunk("".join(batch).encode())
                batch = []
        if batch:
            chunk("".join(batch).encode())
        chunk(b'], "meta": {"total": %d}}' % HUGE_RECORDS)
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args):
        pass


def test_a_huge_json_array_streams_in_flat_memory(db):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), HugeArray)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        db.register("huge", "http://127.0.0.1:%d/huge" % httpd.server_address[1], "public.huge", COLUMNS,
                    format="json", upsert="off", options={"records_path": "/data"})
        samples = []  # (seconds since the run started, RssAnon of the worker in kB)
        done = threading.Event()
        watcher = db.connect()
        started = time.monotonic()

        def sample():
            pid = None
            while not done.is_set():
                if pid is None:
                    row = watcher.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = "
                                          "'pg_bulk_ingest run'").fetchone()
                    pid = row["pid"] if row else None
                if pid is not None:
                    try:
                        with open("/proc/%d/status" % pid) as f:
                            for line in f:
                                if line.startswith("RssAnon:"):
                                    samples.append((time.monotonic() - started, int(line.split()[1])))
                    except OSError:
                        pass
                time.sleep(0.05)

        t = threading.Thread(target=sample)
        t.start()
        run = db.run("huge")
        elapsed = time.monotonic() - started
        done.set()
        t.join()
        peak = max(kb for _, kb in samples) if samples else 0
        early = max([kb for at, kb in samples if at < elapsed / 5] or [0])
        print("\nhuge JSON array: %d records, %.1f MB in %.1f s; peak private memory of the worker %.1f MB "
              "(%.1f MB in the first fifth of the run), %d samples"
              % (run["rows"], run["bytes"] / 1e6, elapsed, peak / 1024, early / 1024, len(samples)))
        assert run["rows"] == HUGE_RECORDS
        assert len(samples) >= 20 and early > 0, "the worker's memory was hardly sampled: %r" % samples[:5]
        # Flat: the next 100+ MB add nothing to what the first fifth needed; and a few MB (the docs' words).
        assert peak - early < 2 * 1024, "memory grows with the body: %d kB, %d kB early" % (peak, early)
        assert peak < 12 * 1024, "not a few MB: %d kB for %d bytes" % (peak, run["bytes"])
    finally:
        httpd.shutdown()
