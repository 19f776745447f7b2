#!/usr/bin/python3
"""Benchmark: the peak memory of a run's worker for one very long NDJSON line (issue 10).

    /usr/bin/python3 bench/long_lines.py [--sizes 100,300] [--cases text,undeclared,upsert]

A throwaway cluster (own port, `bulk_ingest.max_record_size = 1GB` so that the lines are read) and a loopback HTTP
server that streams, for each size S (MB), one NDJSON record {"id": 1, "v": "xxx...x"} whose string is S MB long,
generated on the fly (the server holds 1 MB at a time). Cases:
  text        v into a text column, appended (upsert off): the value goes through the reader, COPY and the heap
  undeclared  only id is declared: v is read and parsed but loaded nowhere
  upsert      v into a text column of a table with a primary key (the staging table and the merge)
For each case it reports the worker's peak private memory: the largest RssAnon of /proc/<pid>/status sampled every
20 ms, and the worker's VmHWM (peak resident set, shared buffers included) read just before it exits; the ratio is
peak private memory / line size. A second line with the default limit (64 MB) shows that a longer line fails early,
with bounded memory. Nothing here is part of CI.
"""

import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "lib"))
from pgcluster import Cluster  # noqa: E402

MB = 1024 * 1024


class LongLine(BaseHTTPRequestHandler):
    """GET /<size in MB>: one NDJSON line with a string of that many MB, streamed with a Content-Length."""

    def do_GET(self):
        size = int(self.path.strip("/")) * MB
        head, tail = b'{"id": 1, "v": "', b'"}\n'
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(head) + size + len(tail)))
        self.end_headers()
        block = b"x" * MB
        try:
            self.wfile.write(head)
            for _ in range(size // MB):
                self.wfile.write(block)
            self.wfile.write(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker stopped reading (a line over the limit)

    def log_message(self, *args):
        pass


class Sampler(threading.Thread):
    """Samples the run worker's RssAnon (and its VmHWM) until stopped."""

    def __init__(self, cluster, dbname):
        super().__init__(daemon=True)
        self.conn = cluster.connect(dbname=dbname)
        self.stop_flag = threading.Event()
        self.peak_anon_kb = 0
        self.hwm_kb = 0

    def run(self):
        pid = None
        while not self.stop_flag.is_set():
            if pid is None:
                row = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run'"
                                        ).fetchone()
                pid = row[0] if row else None
            if pid is not None:
                try:
                    with open("/proc/%d/status" % pid) as f:
                        for line in f:
                            if line.startswith("RssAnon:"):
                                self.peak_anon_kb = max(self.peak_anon_kb, int(line.split()[1]))
                            elif line.startswith("VmHWM:"):
                                self.hwm_kb = max(self.hwm_kb, int(line.split()[1]))
                except OSError:
                    pid = None
            time.sleep(0.02)

    def stop(self):
        self.stop_flag.set()
        self.join()
        self.conn.close()


COLUMNS = {
    "text": [{"name": "id", "type": "int"}, {"name": "v", "type": "text"}],
    "undeclared": [{"name": "id", "type": "int"}],
    "upsert": [{"name": "id", "type": "int", "primary_key": True}, {"name": "v", "type": "text"}],
}


def measure(cluster, dbname, port, case, size_mb):
    with cluster.connect(dbname=dbname) as conn:
        conn.execute("DROP TABLE IF EXISTS public.t_%s" % case)
        conn.execute("SELECT bulk_ingest_unregister(source) FROM bulk_ingest.sources")
        import json
        conn.execute("SELECT bulk_ingest_register(source => %s, url => %s, target => %s, columns => %s::jsonb,"
                     " upsert => %s, options => '{\"max_retries\": 0}')",
                     ("long_%s" % case, "http://127.0.0.1:%d/%d" % (port, size_mb), "public.t_%s" % case,
                      json.dumps(COLUMNS[case]), "if_primary_key" if case == "upsert" else "off"))
    sampler = Sampler(cluster, dbname)
    sampler.start()
    started = time.monotonic()
    error = None
    try:
        with cluster.connect(dbname=dbname) as conn:
            conn.execute("SELECT * FROM bulk_ingest_run(%s)", ("long_%s" % case,))
    except Exception as e:  # noqa: BLE001 - reported
        error = str(e).splitlines()[0]
    elapsed = time.monotonic() - started
    sampler.stop()
    return sampler.peak_anon_kb, sampler.hwm_kb, elapsed, error


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100,300", help="line sizes in MB")
    p.add_argument("--cases", default="text,undeclared,upsert")
    p.add_argument("--keep", action="store_true", help="keep the cluster")
    args = p.parse_args()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), LongLine)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    cluster = Cluster("bench_long_lines", settings={"shared_buffers": "128MB", "max_wal_size": "4GB"})
    cluster.init()
    cluster.start()
    dbname = "bench"
    try:
        with cluster.connect() as conn:
            conn.execute("CREATE DATABASE %s" % dbname)
        with cluster.connect(dbname=dbname) as conn:
            conn.execute("CREATE EXTENSION pg_bulk_ingest")
            version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_bulk_ingest'"
                                   ).fetchone()[0]
        print("pg_bulk_ingest %s, binaries %s" % (version, os.environ.get("PG_BINDIR", "(default)")))
        print("%-11s %8s %14s %12s %7s %8s  %s" % ("case", "line MB", "peak anon MB", "VmHWM MB", "ratio", "secs",
                                                  "outcome"))
        for size in [int(s) for s in args.sizes.split(",")]:
            for case in args.cases.split(","):
                with cluster.connect() as conn:
                    conn.execute("ALTER DATABASE %s SET bulk_ingest.max_record_size = '1GB'" % dbname)
                anon, hwm, secs, error = measure(cluster, dbname, port, case, size)
                print("%-11s %8d %14.0f %12.0f %7.2f %8.1f  %s" % (case, size, anon / 1024, hwm / 1024,
                                                                  anon / 1024 / size, secs, error or "loaded"),
                      flush=True)
        # The default limit: a line over it fails before more than the limit is held.
        with cluster.connect() as conn:
            conn.execute("ALTER DATABASE %s RESET bulk_ingest.max_record_size" % dbname)
        size = max(int(s) for s in args.sizes.split(","))
        anon, hwm, secs, error = measure(cluster, dbname, port, "text", size)
        print("%-11s %8d %14.0f %12.0f %7s %8.1f  %s" % ("default", size, anon / 1024, hwm / 1024, "-", secs,
                                                        (error or "loaded")[:140]), flush=True)
    finally:
        httpd.shutdown()
        if args.keep:
            cluster.stop()
        else:
            cluster.destroy()


if __name__ == "__main__":
    main()
