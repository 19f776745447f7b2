#!/usr/bin/python3
"""Where a run's time goes, in instructions: one bulk_ingest_run (or the COPY it is measured against) in a cluster
whose server runs under valgrind --tool=callgrind. Instruction counts do not depend on the machine's load, so they
compare versions and contenders when timings are too noisy.

    /usr/bin/python3 bench/callgrind_run.py --rows 100000 --workload first_load [--format ndjson] [--top 40]

Workloads as in ingest_bench.py: copy, first_load, first_load_1, append, reingest_same, reingest_changed,
sql_same, sql_changed (the re-ingests and the SQL staging path run over a table already holding the rows, loaded by
COPY outside the profile). Prints the total of the
loading process (the run's background worker, or the COPY backend), then its functions by inclusive and by
self cost (callgrind_annotate), and keeps the profile in /tmp/pg_bulk_ingest_callgrind/.
Needs valgrind (Debian package valgrind). Nothing here runs in CI.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "lib"))
import ingest_bench  # noqa: E402
from pgcluster import Cluster  # noqa: E402

OUT_DIR = "/tmp/pg_bulk_ingest_callgrind"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100000)
    parser.add_argument("--workload", default="first_load")
    parser.add_argument("--format", default="ndjson")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    ingest_bench.generate(args.rows)
    shutil.rmtree(OUT_DIR, ignore_errors=True)
    os.makedirs(OUT_DIR)
    os.chmod(OUT_DIR, 0o777)
    server = ThreadingHTTPServer(("127.0.0.1", 0), ingest_bench.Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    cluster = Cluster("callgrind", settings={"shared_buffers": "256MB", "max_wal_size": "4GB",
                                             "bulk_ingest.allowed_hosts": "127.0.0.1"})
    cluster.destroy()
    cluster.init()
    # pg_ctl starts this wrapper instead of postgres: every server process (forked) is profiled, each to its file.
    wrapper = os.path.join(cluster.root, "postgres-callgrind")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --tool=callgrind --quiet --trace-children=no "
                "--callgrind-out-file=%s/callgrind.out.%%p %s \"$@\"\n"
                % (OUT_DIR, os.path.join(cluster.bindir, "postgres")))
    os.chmod(wrapper, 0o755)
    cluster._run([os.path.join(cluster.bindir, "pg_ctl"), "start", "-D", cluster.datadir, "-l", cluster.log_path,
                  "-w", "-t", "300", "-p", wrapper])
    try:
        cluster.connect().execute("CREATE DATABASE bench")
        db = cluster.connect(dbname="bench")
        db.execute("CREATE EXTENSION pg_bulk_ingest")
        db.execute("CREATE SCHEMA bench")
        db.execute(ingest_bench.TABLE_DDL)
        port = server.server_address[1]
        path = os.path.basename(ingest_bench.data_path(args.rows, args.format,
                                                       changed=args.workload == "reingest_changed"))
        columns = ingest_bench.CSV_COLUMNS if args.format == "csv" else ingest_bench.COLUMNS
        options = {"batch_rows": args.rows + 1} if args.workload == "first_load_1" else {}
        upsert = "off" if args.workload == "append" else "if_primary_key"
        db.execute("SELECT bulk_ingest_register('s', %s, 'bench.orders', %s, format => %s, upsert => %s,"
                   " options => %s)", ("http://127.0.0.1:%d/file/%s" % (port, path), json.dumps(columns),
                                       args.format, upsert, json.dumps(options)))
        copy_file = ingest_bench.data_path(args.rows, "csv", copy_csv=True)
        if args.workload.startswith("reingest") or args.workload.startswith("sql_"):
            db.execute("COPY bench.orders FROM %s WITH (FORMAT csv)" % ingest_bench.quote(copy_file))
        before = set(glob.glob(OUT_DIR + "/callgrind.out.*"))
        if args.workload == "copy":
            copy = cluster.connect(dbname="bench")  # a backend of its own: its profile is the COPY alone
            pid = copy.execute("SELECT pg_backend_pid()").fetchone()[0]
            copy.execute("COPY bench.orders FROM %s WITH (FORMAT csv)" % ingest_bench.quote(copy_file))
            copy.close()
        elif args.workload.startswith("sql_"):
            sql = cluster.connect(dbname="bench")  # a backend of its own: its profile is the SQL path alone
            pid = sql.execute("SELECT pg_backend_pid()").fetchone()[0]
            sql_file = ingest_bench.data_path(args.rows, "csv", args.workload == "sql_changed", copy_csv=True)
            ingest_bench.sql_staging(sql, sql_file)
            sql.close()
        else:
            db.execute("SELECT status FROM bulk_ingest_run('s', '__EARLIEST__')")
            pid = None
        count = db.execute("SELECT count(*) FROM bench.orders").fetchone()[0]
        print("%s: %d rows in the table" % (args.workload, count))
        db.close()
    finally:
        cluster.stop()
        server.shutdown()
    if pid is not None:
        profile = os.path.join(OUT_DIR, "callgrind.out.%d" % pid)
    else:
        # The run's worker: the new profile with the most instructions that is not the caller's backend.
        new = [p for p in glob.glob(OUT_DIR + "/callgrind.out.*") if p not in before]
        profile = max(new, key=lambda p: total_of(p))
    print("profile: %s, %s instructions (%.0f per row)" % (profile, "{:,}".format(total_of(profile)),
                                                         total_of(profile) / args.rows))
    for inclusive in (True, False):
        out = subprocess.run(["callgrind_annotate", "--inclusive=%s" % ("yes" if inclusive else "no"), profile],
                             capture_output=True, text=True).stdout.splitlines()
        start = next((i for i, line in enumerate(out) if "file:function" in line), 0)
        print("\n--- %s cost ---" % ("inclusive" if inclusive else "self"))
        print("\n".join(out[start:start + 2 + args.top]))
    cluster.destroy()


def total_of(profile):
    """Instructions of every thread of the process (the totals line; summary covers less)."""
    total = 0
    with open(profile) as f:
        for line in f:
            if line.startswith("totals:"):
                total = int(line.split()[1])
    return total


if __name__ == "__main__":
    main()
