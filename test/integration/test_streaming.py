"""Streaming (issue 5): compressed bodies, and a huge JSON array loaded with the backend's memory flat."""

import gzip
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COLUMNS = [{"name": "id", "type": "bigint"}, {"name": "name", "type": "text"}, {"name": "meta", "type": "jsonb"}]
HUGE_RECORDS = int(os.environ.get("PG_BULK_INGEST_HUGE_RECORDS", "1500000"))  # ~135 MB of JSON


def test_gzip_and_deflate_bodies(db, server):
    body = "".join(json.dumps({"id": i, "name": "n%d" % i}) + "\n" for i in range(1, 501)).encode()
    server.add_route("/gz", gzip.compress(body), headers={"Content-Encoding": "gzip"})
    db.register("gz", server.url("/gz"), "public.gz", COLUMNS[:2])
    run = db.run("gz")
    assert run["rows"] == 500 and run["bytes"] == len(body)  # bytes count the decoded body
    assert db.scalar("SELECT name FROM public.gz WHERE id = 500") == "n500"


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
        peak = {"kb": 0}
        done = threading.Event()
        watcher = db.connect()

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
                                    peak["kb"] = max(peak["kb"], int(line.split()[1]))
                    except OSError:
                        pass
                time.sleep(0.05)

        t = threading.Thread(target=sample)
        t.start()
        started = time.monotonic()
        run = db.run("huge")
        elapsed = time.monotonic() - started
        done.set()
        t.join()
        print("\nhuge JSON array: %d records, %.1f MB in %.1f s; peak private memory of the worker %.1f MB"
              % (run["rows"], run["bytes"] / 1e6, elapsed, peak["kb"] / 1024))
        assert run["rows"] == HUGE_RECORDS
        assert peak["kb"] > 0, "the worker's memory was never sampled"
        assert peak["kb"] < 48 * 1024, "memory is not flat: %d kB for %d bytes" % (peak["kb"], run["bytes"])
    finally:
        httpd.shutdown()
