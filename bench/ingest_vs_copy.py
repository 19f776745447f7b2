#!/usr/bin/python3
"""Benchmark: bulk_ingest_run of N NDJSON rows over loopback HTTP against a plain server-side COPY FROM of the same
rows as CSV, into the same table, in the same run.

    /usr/bin/python3 bench/ingest_vs_copy.py [--rows 1000000] [--repeat 3]

For each repetition the table is truncated and loaded by each contender in turn:
  copy_csv        COPY bench.orders FROM '<file>.csv' (CSV), the baseline
  ingest_append   bulk_ingest_run with upsert => 'off' (rows straight into the table)
  ingest_upsert   bulk_ingest_run with upsert => 'if_primary_key' into the empty table: the first batch takes the
                  fast path (a new table, the key built after the load), the next batches (100,000 rows each)
                  go through a staging table and merge on the key
  ingest_upsert_1 the same with one batch (batch_rows above the row count): all of it on the fast path
  ingest_upsert_again  upsert of the same rows into the table already holding them (every batch merged)
  ingest_append_wm  as ingest_append, with a high_watermark_column (every value compared in its type)
Reports the median rows/s of each, its ratio to copy_csv, and the peak private (anonymous) memory of the loading
backend, sampled from /proc/<pid>/status (RssAnon: the backend's own memory, excluding shared buffers).
The cluster runs with durable settings (fsync on). Nothing here is part of CI.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "lib"))
from pgcluster import Cluster  # noqa: E402

DATA_DIR = "/tmp/pg_bulk_ingest_bench"
COLUMNS = [
    {"name": "id", "type": "bigint", "primary_key": True},
    {"name": "customer", "type": "text", "nullable": False},
    {"name": "amount", "type": "numeric(12,2)"},
    {"name": "updated_at", "type": "timestamptz"},
    {"name": "details", "type": "jsonb", "path": "/meta"},
]
TABLE_DDL = """CREATE TABLE bench.orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2),
               updated_at timestamptz, details jsonb)"""


def generate(rows):
    """Writes the same rows as NDJSON and CSV (once per row count)."""
    os.makedirs(DATA_DIR, exist_ok=True)
    os.chmod(DATA_DIR, 0o755)
    ndjson_path = os.path.join(DATA_DIR, "orders-%d.ndjson" % rows)
    csv_path = os.path.join(DATA_DIR, "orders-%d.csv" % rows)
    if os.path.exists(ndjson_path) and os.path.exists(csv_path):
        return ndjson_path, csv_path
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    with open(ndjson_path + ".tmp", "w") as nd, open(csv_path + ".tmp", "w") as csv:
        for i in range(1, rows + 1):
            customer = "customer-%d" % (i % 5000)
            amount = "%d.%02d" % (i % 100000, i % 100)
            ts = (start + datetime.timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
            meta = {"channel": ("web", "store", "phone")[i % 3], "items": [i % 7, i % 11], "note": "order %d" % i}
            meta_json = json.dumps(meta, separators=(",", ":"))
            nd.write('{"id":%d,"customer":"%s","amount":%s,"updated_at":"%s","meta":%s}\n'
                     % (i, customer, amount, ts, meta_json))
            csv.write('%d,%s,%s,%s,"%s"\n' % (i, customer, amount, ts, meta_json.replace('"', '""')))
    os.rename(ndjson_path + ".tmp", ndjson_path)
    os.rename(csv_path + ".tmp", csv_path)
    for path in (ndjson_path, csv_path):
        os.chmod(path, 0o644)
    return ndjson_path, csv_path


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class MemorySampler(threading.Thread):
    """Samples the peak RssAnon of the first process found by find_pid() until stopped."""

    def __init__(self, find_pid):
        super().__init__(daemon=True)
        self.find_pid = find_pid
        self.peak_kb = 0
        self.pid = None
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            if self.pid is None:
                self.pid = self.find_pid()
            if self.pid is not None:
                try:
                    with open("/proc/%d/status" % self.pid) as f:
                        for line in f:
                            if line.startswith("RssAnon:"):
                                self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    pass
            time.sleep(0.02)

    def stop(self):
        self.stopping.set()
        self.join()
        return self.peak_kb


def worker_pid_finder(cluster):
    conn = cluster.connect(dbname="bench")

    def find():
        row = conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run'").fetchone()
        return row[0] if row else None

    return find


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print("generating %d rows ..." % args.rows, flush=True)
    ndjson_path, csv_path = generate(args.rows)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=DATA_DIR))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/%s" % (server.server_address[1], os.path.basename(ndjson_path))

    cluster = Cluster("bench", settings={"fsync": "on", "full_page_writes": "on", "max_wal_size": "4GB",
                                          "shared_buffers": "512MB"})
    cluster.destroy()
    cluster.init()
    cluster.start()
    try:
        admin = cluster.connect()
        admin.execute("CREATE DATABASE bench")
        db = cluster.connect(dbname="bench")
        db.execute("CREATE EXTENSION pg_bulk_ingest")
        db.execute("CREATE SCHEMA bench")
        db.execute(TABLE_DDL)
        columns = json.dumps(COLUMNS)
        db.execute("SELECT bulk_ingest_register('append', %s, 'bench.orders', %s, upsert => 'off')", (url, columns))
        db.execute("SELECT bulk_ingest_register('upsert', %s, 'bench.orders', %s)", (url, columns))
        db.execute("SELECT bulk_ingest_register('upsert_1', %s, 'bench.orders', %s, options => %s)",
                   (url, columns, json.dumps({"batch_rows": args.rows + 1})))
        db.execute("SELECT bulk_ingest_register('append_wm', %s, 'bench.orders', %s, upsert => 'off',"
                   " high_watermark_column => 'updated_at')", (url, columns))
        find_worker = worker_pid_finder(cluster)
        copy_pid = db.execute("SELECT pg_backend_pid()").fetchone()[0]

        contenders = {
            "copy_csv": (lambda: db.execute("COPY bench.orders FROM %s WITH (FORMAT csv)" % quote(csv_path)),
                         lambda: copy_pid),
            "ingest_append": (lambda: db.execute("SELECT bulk_ingest_run('append', '__EARLIEST__')"), find_worker),
            "ingest_upsert": (lambda: db.execute("SELECT bulk_ingest_run('upsert', '__EARLIEST__')"), find_worker),
            "ingest_append_wm": (lambda: db.execute("SELECT bulk_ingest_run('append_wm', '__EARLIEST__')"),
                                 find_worker),
            "ingest_upsert_1": (lambda: db.execute("SELECT bulk_ingest_run('upsert_1', '__EARLIEST__')"), find_worker),
            "ingest_upsert_again": (lambda: db.execute("SELECT bulk_ingest_run('upsert', '__EARLIEST__')"),
                                    find_worker),
        }
        results = {name: {"seconds": [], "peak_kb": []} for name in contenders}
        for rep in range(args.repeat):
            for name, (load, pid_of) in contenders.items():
                if name != "ingest_upsert_again":  # it runs over the rows ingest_upsert_1 left
                    db.execute("TRUNCATE bench.orders")
                db.execute("CHECKPOINT")
                sampler = MemorySampler(pid_of)
                sampler.start()
                started = time.monotonic()
                load()
                elapsed = time.monotonic() - started
                peak = sampler.stop()
                count = db.execute("SELECT count(*) FROM bench.orders").fetchone()[0]
                if count != args.rows:
                    raise SystemExit("%s loaded %d rows, expected %d" % (name, count, args.rows))
                results[name]["seconds"].append(elapsed)
                results[name]["peak_kb"].append(peak)
                print("rep %d %-17s %7.2f s  %9.0f rows/s  peak private memory %6.1f MB"
                      % (rep + 1, name, elapsed, args.rows / elapsed, peak / 1024), flush=True)

        base = args.rows / statistics.median(results["copy_csv"]["seconds"])
        print("\n%d rows, median of %d runs" % (args.rows, args.repeat))
        print("%-17s %12s %8s %18s" % ("contender", "rows/s", "ratio", "peak private MB"))
        for name, r in results.items():
            rate = args.rows / statistics.median(r["seconds"])
            print("%-17s %12.0f %8.2f %18.1f" % (name, rate, rate / base, max(r["peak_kb"]) / 1024))
    finally:
        cluster.destroy()
        server.shutdown()


def quote(s):
    return "'" + s.replace("'", "''") + "'"


if __name__ == "__main__":
    main()
