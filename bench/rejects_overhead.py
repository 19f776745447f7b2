#!/usr/bin/python3
"""Benchmark: what options.on_error = 'skip' costs (issue 10), against plain COPY of the same rows in the same run.

    /usr/bin/python3 bench/rejects_overhead.py [--rows 1000000] [--repeat 3]

The rows and table of bench/ingest_bench.py (bench.orders, 5 columns with a primary key, emptied before each
contender, so the first batch takes the fast path), loaded by:
  copy_csv          COPY bench.orders FROM '<file>.csv', the baseline
  abort             bulk_ingest_run, upsert => 'off', on_error 'abort' (the default)
  skip_clean        the same rows with on_error 'skip': nothing is rejected; this is what the feature costs a
                    clean batch (its rows are also written to a temporary file, in a subtransaction)
  skip_bad_lines    on_error 'skip' with one line in 1,000 not JSON (the reader rejects them; no batch is copied again)
  skip_bad_values   on_error 'skip' with one value per batch (every 100,000th row) that numeric(12,2) refuses: each
                    batch is copied twice
Reports the median rows/s and the ratio to copy_csv and to abort. Nothing here is part of CI.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
from functools import partial

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "lib"))
import ingest_bench  # noqa: E402
from ingest_bench import COLUMNS, TABLE_DDL, Handler, QuietServer, data_path, generate, quote  # noqa: E402
from pgcluster import Cluster  # noqa: E402

# Its own files (a shared machine may hold another benchmark's in ingest_bench's directory).
DATA_DIR = os.environ.get("BENCH_DATA_DIR", "/tmp/pg_bulk_ingest_bench_rejects")
ingest_bench.DATA_DIR = DATA_DIR


def variant(path, name, every, spoil):
    """A copy of the NDJSON file with every `every`-th line spoiled (line -> spoil(line))."""
    out = path.replace(".ndjson", "-%s.ndjson" % name)
    if not os.path.exists(out):
        with open(path) as src, open(out + ".tmp", "w") as dst:
            for i, line in enumerate(src, 1):
                dst.write(spoil(line) if i % every == 0 else line)
        os.rename(out + ".tmp", out)
        os.chmod(out, 0o644)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1000000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    generate(args.rows)
    ndjson_path, csv_path = data_path(args.rows, "ndjson"), data_path(args.rows, "csv", copy_csv=True)
    bad_lines = variant(ndjson_path, "badlines", 1000, lambda line: line[:20] + "\n")
    bad_values = variant(ndjson_path, "badvalues", 100000,
                         lambda line: line.replace('"amount":', '"amount":"refused","x":', 1))
    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = "http://127.0.0.1:%d/file/" % server.server_address[1]

    cluster = Cluster("bench_rejects", settings={"fsync": "on", "max_wal_size": "4GB", "shared_buffers": "512MB"})
    cluster.destroy()
    cluster.init()
    cluster.start()
    try:
        cluster.connect().execute("CREATE DATABASE bench")
        db = cluster.connect(dbname="bench")
        db.execute("CREATE EXTENSION pg_bulk_ingest")
        db.execute("CREATE SCHEMA bench")
        db.execute(TABLE_DDL)
        columns = json.dumps(COLUMNS)
        sources = {
            "abort": (ndjson_path, {}),
            "skip_clean": (ndjson_path, {"on_error": "skip"}),
            "skip_bad_lines": (bad_lines, {"on_error": "skip", "max_rejects": args.rows}),
            "skip_bad_values": (bad_values, {"on_error": "skip", "max_rejects": args.rows}),
        }
        expected = {"abort": args.rows, "skip_clean": args.rows, "skip_bad_lines": args.rows - args.rows // 1000,
                    "skip_bad_values": args.rows - args.rows // 100000}
        for name, (path, options) in sources.items():
            db.execute("SELECT bulk_ingest_register(%s, %s, 'bench.orders', %s, upsert => 'off', options => %s)",
                       (name, base_url + os.path.basename(path), columns, json.dumps(options)))
        contenders = {"copy_csv": lambda: db.execute("COPY bench.orders FROM %s WITH (FORMAT csv)" % quote(csv_path))}
        for name in sources:
            contenders[name] = partial(lambda n: db.execute("SELECT bulk_ingest_run(%s, '__EARLIEST__')", (n,)), name)
        seconds = {name: [] for name in contenders}
        for rep in range(args.repeat):
            for name, load in contenders.items():
                db.execute("TRUNCATE bench.orders")
                db.execute("DELETE FROM bulk_ingest.runs")
                db.execute("CHECKPOINT")
                started = time.monotonic()
                load()
                elapsed = time.monotonic() - started
                count = db.execute("SELECT count(*) FROM bench.orders").fetchone()[0]
                want = expected.get(name, args.rows)
                if count != want:
                    raise SystemExit("%s loaded %d rows, expected %d" % (name, count, want))
                rejected = db.execute("SELECT coalesce(sum(rejected), 0) FROM bulk_ingest.runs").fetchone()[0]
                seconds[name].append(elapsed)
                print("rep %d %-16s %7.2f s %10.0f rows/s  rejected %d" % (rep + 1, name, elapsed, args.rows / elapsed,
                                                                           rejected), flush=True)
        rate = {name: args.rows / statistics.median(s) for name, s in seconds.items()}
        print("\n%d rows, median of %d runs" % (args.rows, args.repeat))
        print("%-16s %12s %14s %12s" % ("contender", "rows/s", "vs copy_csv", "vs abort"))
        for name in contenders:
            print("%-16s %12.0f %14.2f %12.2f" % (name, rate[name], rate[name] / rate["copy_csv"],
                                                  rate[name] / rate["abort"]))
    finally:
        cluster.destroy()
        server.shutdown()


if __name__ == "__main__":
    main()
