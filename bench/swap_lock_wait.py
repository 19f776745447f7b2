#!/usr/bin/python3
"""Benchmark: how long concurrent readers wait while a run swaps a rebuilt 1,000,000-row table in, and what a
no-change run costs on a 1,000,000-row table.

    /usr/bin/python3 bench/swap_lock_wait.py [--rows 1000000] [--readers 3] [--hold 3] [--repeat 1] [--nochange-runs 5]

Part 1, the swap. bench.t (id bigint primary key, customer text not null, amount numeric(12,2), updated_at
timestamptz) is loaded with --rows rows by INSERT ... SELECT generate_series (not over HTTP), then a source whose
declaration adds a column (note text) runs one page of 100 upserted rows: its first batch rebuilds the table (copies
the rows, builds the primary key) and swaps it in under ACCESS EXCLUSIVE. Meanwhile --readers reader processes, each
with its own connection, run `SELECT count(*) FROM bench.t WHERE id = $1` (random id) in a tight loop and record
every query's start and latency. Scenarios (a fresh table each):
  a_no_blocker       nothing else holds a lock on the table; bulk_ingest.lock_timeout = 100ms (the default)
  b_blocker_100ms    a session does BEGIN; SELECT * FROM bench.t LIMIT 1; and stays idle in transaction until --hold
                     seconds after the run starts waiting for the swap's lock, so the swap's attempts time out and
                     retry; lock_timeout 100ms
  c_blocker_20ms     as b with bulk_ingest.lock_timeout = 20ms (ALTER SYSTEM + reload)
For each it reports the readers' latencies: before the run (baseline), over the whole run, and for the queries that
overlapped the swap window, which runs from the last moment the run was seen in phase 'rebuilding'
(bulk_ingest.progress, polled every few ms) to the commit of the swap's transaction (track_commit_timestamp);
"at commit" are the queries in flight at that commit. It also reports the run's lock_attempts and lock_wait_ms
(bulk_ingest.runs) and the time the lock was held (window - lock_wait_ms, up to the commit's timestamp, which is
taken before the commit's WAL flush; the lock is released after the flush).
The server logs every lock wait over 10 ms (log_lock_waits, deadlock_timeout=10ms) and every statement phase of
50 ms or more (log_min_duration_statement): the readers' longest of each, from the log, tell waits for a lock from
other stalls in the server, and those from stalls outside it (a reader process not scheduled on a busy machine).

Part 2, a no-change run. A source whose declaration matches the table exactly upserts a page of 1 or 100 existing
ids into a --rows-row table and into a 10-row table; reports the median wall clock of bulk_ingest_run (and the run's
own finished_at - started_at) over --nochange-runs runs after one discarded warm-up run, and checks that every run's
runs.rebuild is NULL.

The cluster (test/lib/pgcluster.py, named bench_swap) preloads pg_bulk_ingest (for bulk_ingest.progress), with
shared_buffers=512MB, max_wal_size=4GB, fsync on, track_commit_timestamp on, and the logging above. Figures are
printed and written to bench/results/swap_lock_wait-<date>.txt. Nothing here is part of CI.
"""

import argparse
import datetime
import json
import math
import multiprocessing as mp
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "test", "fixtures"))
from pgcluster import Cluster  # noqa: E402
from server import FixtureServer  # noqa: E402

DBNAME = "bench"
COLUMNS = [
    {"name": "id", "type": "bigint", "primary_key": True},
    {"name": "customer", "type": "text", "nullable": False},
    {"name": "amount", "type": "numeric(12,2)"},
    {"name": "updated_at", "type": "timestamptz"},
]
MIGRATED_COLUMNS = COLUMNS + [{"name": "note", "type": "text"}]
TABLE_DDL = ("CREATE TABLE %s (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2),"
             " updated_at timestamptz)")
FILL_SQL = ("INSERT INTO %s SELECT g, 'customer-' || (g %% 5000), (g %% 100000) + (g %% 100) / 100.0,"
            " timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(1, %d) g")
SWAP_PHASES = ("waiting for the swap's lock", "swapping", "committing")
WAITING = "waiting for the swap's lock"
SLOW_MS = 50.0  # a reader query at least this slow counts as stalled
LOCK_LOG_MS = 10  # deadlock_timeout: log_lock_waits logs every heavyweight-lock wait longer than this
LOG_TIME = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC \[(\d+)\]"
SLOW_STATEMENT = re.compile(LOG_TIME + r".*duration: ([\d.]+) ms .*count\(\*\) FROM bench\.t WHERE")
ACQUIRED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC \[(\d+)\].*process \d+ acquired (\w+) on "
                      r"relation \d+ of database \d+ after ([\d.]+) ms")

SCENARIOS = [
    # name, bulk_ingest.lock_timeout, blocker
    ("a_no_blocker", "100ms", False),
    ("b_blocker_100ms", "100ms", True),
    ("c_blocker_20ms", "20ms", True),
]


# ---- helpers --------------------------------------------------------------------------------------------------

def pct(values, p):
    """The p-th percentile (nearest rank) of values; None when empty."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))]


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def records(ids, note=None):
    lines = []
    for i in ids:
        rec = {"id": i, "customer": "customer-%d" % (i % 5000), "amount": round(i % 100000 + (i + 1) % 100 / 100.0, 2),
               "updated_at": "2026-02-01T00:00:00Z"}
        if note is not None:
            rec["note"] = note
        lines.append(json.dumps(rec))
    return "\n".join(lines) + "\n"


# ---- readers (processes: no GIL between the readers and the clock) ---------------------------------------------

def reader_main(conninfo, rows, stop, ready, out, seed):
    import psycopg
    rnd = random.Random(seed)
    starts, durations, errors = [], [], []
    conn = psycopg.connect(conninfo, autocommit=True)
    ready.set()
    query = "SELECT count(*) FROM bench.t WHERE id = %s"
    while not stop.is_set():
        key = rnd.randint(1, rows)
        t0 = time.time()
        p0 = time.perf_counter()
        try:
            conn.execute(query, (key,)).fetchone()
        except Exception as e:  # recorded, reported, and the reader goes on
            errors.append((t0, "%s: %s" % (type(e).__name__, str(e).strip().splitlines()[0] if str(e) else "")))
            if conn.closed or conn.broken:
                conn = psycopg.connect(conninfo, autocommit=True)
            continue
        starts.append(t0)
        durations.append(time.perf_counter() - p0)
    conn.close()
    out.put((starts, durations, errors))


class Readers:
    def __init__(self, conninfo, n, rows):
        ctx = mp.get_context("fork")
        self.stop = ctx.Event()
        self.out = ctx.Queue()
        self.procs = []
        readies = []
        for i in range(n):
            ready = ctx.Event()
            p = ctx.Process(target=reader_main, args=(conninfo, rows, self.stop, ready, self.out,
                                                      random.randrange(1 << 30)), daemon=True)
            p.start()
            self.procs.append(p)
            readies.append(ready)
        for r in readies:
            if not r.wait(30):
                raise SystemExit("a reader did not connect")

    def finish(self):
        """Stops the readers; returns [(start, end, latency_ms)], [(time, error)]."""
        self.stop.set()
        queries, errors = [], []
        for _ in self.procs:
            starts, durations, errs = self.out.get(timeout=120)
            queries.extend((s, s + d, d * 1000.0) for s, d in zip(starts, durations))
            errors.extend(errs)
        for p in self.procs:
            p.join(30)
        queries.sort()
        return queries, errors


# ---- the progress poller and the blocker ----------------------------------------------------------------------

class PhasePoller(threading.Thread):
    """Polls bulk_ingest.progress for a source's phase; keeps (time, phase) samples, timed by the server."""

    def __init__(self, cluster, source, interval=0.003):
        super().__init__(daemon=True)
        self.conn = cluster.connect(dbname=DBNAME)
        self.source = source
        self.interval = interval
        self.samples = []
        self.rebuilding_seen = threading.Event()
        self.waiting_seen = threading.Event()
        self.waiting_seen_at = None
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            # the server's clock (the same as time.time()) when it read the phase: a late answer to the poller
            # does not move the sample
            now, phase = self.conn.execute(
                "SELECT extract(epoch FROM clock_timestamp())::float8,"
                " (SELECT phase FROM bulk_ingest.progress WHERE source = %s)", (self.source,)).fetchone()
            self.samples.append((now, phase))
            if phase == "rebuilding":
                self.rebuilding_seen.set()
            if phase in SWAP_PHASES and not self.waiting_seen.is_set():
                self.waiting_seen_at = now
                self.waiting_seen.set()
            time.sleep(self.interval)

    def stop(self):
        self.stopping.set()
        self.join()
        self.conn.close()

    def last_rebuilding(self):
        times = [t for t, p in self.samples if p == "rebuilding"]
        return times[-1] if times else None

    def first(self, phases):
        for t, p in self.samples:
            if p in phases:
                return t
        return None


class Blocker(threading.Thread):
    """Once the run rebuilds, takes ACCESS SHARE on bench.t in an open transaction (BEGIN; SELECT ... LIMIT 1) and
    stays idle in it until `hold` seconds after the run is first seen waiting for the swap's lock, then commits."""

    def __init__(self, cluster, poller, hold, run_done):
        super().__init__(daemon=True)
        self.conn = cluster.connect(dbname=DBNAME, autocommit=False)
        self.poller = poller
        self.hold = hold
        self.run_done = run_done
        self.began = self.released = None
        self.error = None

    def run(self):
        try:
            while not self.poller.rebuilding_seen.wait(0.05):
                if self.run_done.is_set():
                    self.error = "the run never reached 'rebuilding'"
                    return
            self.conn.execute("SELECT * FROM bench.t LIMIT 1").fetchall()
            self.began = time.time()
            while not self.poller.waiting_seen.wait(0.05):
                if self.run_done.is_set():
                    self.error = "the run never waited for the swap's lock"
                    break
            if self.poller.waiting_seen_at is not None:
                time.sleep(max(0.0, self.poller.waiting_seen_at + self.hold - time.time()))
            self.conn.commit()
            self.released = time.time()
        except Exception as e:
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self.conn.close()


# ---- part 1 ---------------------------------------------------------------------------------------------------

def log_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()


def lock_waits(log_text):
    """[(time, pid, mode, ms)] of the heavyweight-lock waits longer than deadlock_timeout, from the server log
    (log_lock_waits); the log's timestamps are UTC (timezone = UTC)."""
    waits = []
    for line in log_text.splitlines():
        m = ACQUIRED.match(line)
        if m:
            waits.append((log_time(m.group(1)), int(m.group(2)), m.group(3), float(m.group(4))))
    return waits


def slow_statements(log_text):
    """[(time, ms)] of the readers' statements (parse, bind or execute) that took SLOW_MS or more in the server
    (log_min_duration_statement); a stall not found here happened outside the server."""
    return [(log_time(m.group(1)), float(m.group(3))) for m in map(SLOW_STATEMENT.match, log_text.splitlines()) if m]


def load_table(db, name, rows):
    db.execute("DROP TABLE IF EXISTS %s CASCADE" % name)
    db.execute(TABLE_DDL % name)
    db.execute(FILL_SQL % (name, rows))
    db.execute("VACUUM (ANALYZE) %s" % name)
    db.execute("CHECKPOINT")


def set_lock_timeout(cluster, db, value):
    db.execute("ALTER SYSTEM SET bulk_ingest.lock_timeout = '%s'" % value)
    db.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while True:
        time.sleep(0.3)
        with cluster.connect(dbname=DBNAME) as c:
            shown = c.execute("SHOW bulk_ingest.lock_timeout").fetchone()[0]
        if shown == value:
            return
        if time.monotonic() > deadline:
            raise SystemExit("bulk_ingest.lock_timeout is %s after the reload, wanted %s" % (shown, value))


def swap_scenario(cluster, db, server, args, name, lock_timeout, blocked):
    print("\n[%s] loading %d rows into bench.t ..." % (name, args.rows), flush=True)
    load_table(db, "bench.t", args.rows)
    set_lock_timeout(cluster, db, lock_timeout)
    server.add_route("/migrate", records(range(1, 101), note="migrated"))
    db.execute("SELECT bulk_ingest_register('migrate', %s, 'bench.t', %s)",
               (server.url("/migrate"), json.dumps(MIGRATED_COLUMNS)))

    log_offset = cluster.log_offset()
    readers = Readers(cluster.conninfo(dbname=DBNAME), args.readers, args.rows)
    time.sleep(args.baseline)
    poller = PhasePoller(cluster, "migrate")
    poller.start()
    run_done = threading.Event()
    blocker = Blocker(cluster, poller, args.hold, run_done) if blocked else None
    if blocker:
        blocker.start()
    run_started = time.time()
    p0 = time.perf_counter()
    run_id = db.execute("SELECT (bulk_ingest_run('migrate')).id").fetchone()[0]
    run_wall = time.perf_counter() - p0
    run_ended = time.time()
    run_done.set()
    if blocker:
        blocker.join()
    time.sleep(args.tail)
    poller.stop()
    queries, errors = readers.finish()
    time.sleep(0.2)  # the logger writes the last lines
    log_text = cluster.log_since(log_offset)
    share_waits = [w for w in lock_waits(log_text) if w[2] == "AccessShareLock"]
    slow_stmts = [x for x in slow_statements(log_text) if run_started <= x[0] <= run_ended + 0.05]

    run = db.execute("SELECT status, error, rebuild, lock_attempts, lock_wait_ms, rows FROM bulk_ingest.runs"
                     " WHERE id = %s", (run_id,)).fetchone()
    status, error, rebuild, attempts, wait_ms, rows = run
    if status != "succeeded" or rebuild is None:
        raise SystemExit("[%s] run %d: status %s, rebuild %r, error %s" % (name, run_id, status, rebuild, error))
    commit = db.execute("SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 FROM pg_class"
                        " WHERE oid = 'bench.t'::regclass").fetchone()[0]
    columns = [r[0] for r in db.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'bench.t'::regclass"
                                        " AND attnum > 0 AND NOT attisdropped ORDER BY attnum").fetchall()]
    if "note" not in columns:
        raise SystemExit("[%s] the swap did not happen: columns %s" % (name, columns))
    window_start = poller.last_rebuilding()
    if window_start is None or commit is None or not (run_started < window_start < commit < run_ended + 1):
        raise SystemExit("[%s] could not place the swap window: rebuilding last seen %r, commit %r, run %r..%r"
                         % (name, window_start, commit, run_started, run_ended))

    # the log's timestamps have ms precision; an "acquired" line is written when the wait ends
    share_in_window = [w for w in share_waits if window_start - 0.002 <= w[0] <= commit + 0.05]
    slow_stmts_outside = [x for x in slow_stmts if not window_start - 0.002 <= x[0] <= commit + 0.05]
    base = [q[2] for q in queries if q[1] <= run_started]
    during = [q[2] for q in queries if q[0] >= run_started and q[1] <= run_ended]
    before_swap = [q[2] for q in queries if q[0] >= run_started and q[1] <= window_start]
    window = [q[2] for q in queries if q[0] < commit and q[1] > window_start]
    at_commit = [q[2] for q in queries if q[0] <= commit <= q[1]]
    slow_run = [q for q in queries if run_started <= q[0] <= run_ended and q[2] >= SLOW_MS]
    slow_window = [q for q in slow_run if q[0] < commit and q[1] > window_start]
    worst = max((q for q in queries if q[0] >= run_started and q[1] <= run_ended), key=lambda q: q[2])
    run_errors = [e for e in errors if run_started <= e[0] <= run_ended + args.tail]
    result = {
        "scenario": name, "lock_timeout": lock_timeout, "blocker": blocked, "run_id": run_id, "rows": rows,
        "rebuild": rebuild, "run_s": run_wall, "swap_window_ms": (commit - window_start) * 1000.0,
        "rebuild_s": window_start - (poller.first(("rebuilding",)) or window_start),
        "lock_attempts": attempts, "lock_wait_ms": wait_ms,
        "held_ms": (commit - window_start) * 1000.0 - (wait_ms or 0.0),
        "baseline_n": len(base), "baseline_p99": pct(base, 99), "baseline_max": max(base) if base else None,
        "run_n": len(during), "run_p99": pct(during, 99), "run_max": max(during) if during else None,
        "pre_swap_p99": pct(before_swap, 99), "pre_swap_max": max(before_swap) if before_swap else None,
        "window_n": len(window), "window_p99": pct(window, 99), "window_max": max(window) if window else None,
        "commit_n": len(at_commit), "commit_max": max(at_commit) if at_commit else None,
        "slow_n": len(slow_run), "slow_in_window": len(slow_window),
        "worst_offset_ms": (worst[1] - commit) * 1000.0,
        "errors": len(run_errors), "first_error": run_errors[0][1] if run_errors else None,
        "lock_waits_n": len(share_waits), "lock_waits_outside": len(share_waits) - len(share_in_window),
        "lock_wait_max": max((w[3] for w in share_waits), default=None),
        # the longest: when it began (from the window's start) and was logged as acquired (from the commit)
        "lock_wait_longest": (lambda w: None if w is None else ((w[0] - w[3] / 1000.0 - window_start) * 1000.0,
                                                                (w[0] - commit) * 1000.0))(
            max(share_waits, key=lambda w: w[3], default=None)),
        "srv_stmt_max": max((x[1] for x in slow_stmts), default=None), "srv_stmt_n": len(slow_stmts),
        "srv_stmt_outside_max": max((x[1] for x in slow_stmts_outside), default=None),
        "blocker_held_s": (blocker.released - blocker.began) if blocker and blocker.released else None,
        "blocker_error": blocker.error if blocker else None,
        "blocker_after_wait_s": (blocker.released - poller.waiting_seen_at)
        if blocker and blocker.released and poller.waiting_seen_at else None,
    }
    print("[%s] run %.2f s, rebuild %r, lock_attempts %s, lock_wait_ms %.1f; readers: max %.1f ms in the run, "
          "%.1f ms in the swap window (%d queries), %d errors"
          % (name, run_wall, rebuild, attempts, wait_ms or 0, result["run_max"], result["window_max"] or 0,
             len(window), len(run_errors)), flush=True)
    return result


# ---- part 2 ---------------------------------------------------------------------------------------------------

def nochange(db, server, args):
    print("\n[no-change] loading %d rows into bench.big and 10 into bench.small ..." % args.rows, flush=True)
    load_table(db, "bench.big", args.rows)
    load_table(db, "bench.small", 10)
    sources = []
    for table, table_rows in (("bench.big", args.rows), ("bench.small", 10)):
        for page in (1, 100):
            src = "same_%s_%d" % (table.split(".")[1], page)
            server.add_route("/" + src, records(range(1, min(page, table_rows) + 1)))
            db.execute("SELECT bulk_ingest_register(%s, %s, %s, %s)",
                       (src, server.url("/" + src), table, json.dumps(COLUMNS)))
            sources.append((src, table, table_rows, page))
    timings = {s[0]: {"wall": [], "server": [], "rebuilds": [], "statuses": set()} for s in sources}
    for rep in range(args.nochange_runs + 1):
        for src, table, table_rows, page in sources:
            p0 = time.perf_counter()
            run_id = db.execute("SELECT (bulk_ingest_run(%s)).id", (src,)).fetchone()[0]
            wall = (time.perf_counter() - p0) * 1000.0
            status, error, rebuild, server_ms = db.execute(
                "SELECT status, error, rebuild, extract(epoch FROM finished_at - started_at) * 1000"
                " FROM bulk_ingest.runs WHERE id = %s", (run_id,)).fetchone()
            if status not in ("succeeded", "unchanged"):
                raise SystemExit("[no-change] %s: run %d %s: %s" % (src, run_id, status, error))
            t = timings[src]
            t["rebuilds"].append(rebuild)
            t["statuses"].add(status)
            if rep > 0:  # the first round is a warm-up
                t["wall"].append(wall)
                t["server"].append(float(server_ms))
    count = db.execute("SELECT count(*) FROM bench.big").fetchone()[0]
    results = []
    for src, table, table_rows, page in sources:
        t = timings[src]
        results.append({"source": src, "table": table, "table_rows": table_rows, "page_rows": page,
                        "wall_median": statistics.median(t["wall"]), "wall_min": min(t["wall"]),
                        "wall_max": max(t["wall"]), "server_median": statistics.median(t["server"]),
                        "rebuild_all_null": all(r is None for r in t["rebuilds"]),
                        "rebuilds": [r for r in t["rebuilds"] if r is not None],
                        "statuses": ",".join(sorted(t["statuses"]))})
    return results, count


# ---- report ---------------------------------------------------------------------------------------------------

def report(args, swaps, nochanges, big_count, info):
    out = []
    w = out.append
    w("pg_bulk_ingest swap_lock_wait benchmark, %s" % info["date"])
    w("commit %s; PostgreSQL %s; %s CPUs; %s" % (info["commit"], info["pg"], os.cpu_count(), platform.platform()))
    w("cluster: shared_buffers=512MB, max_wal_size=4GB, fsync=on, track_commit_timestamp=on, pg_bulk_ingest "
      "preloaded, log_lock_waits=on, deadlock_timeout=%dms, log_min_duration_statement=%dms" % (LOCK_LOG_MS, SLOW_MS))
    w("")
    w("1. Readers during a migration swap of a %d-row table (declaration adds a column; 100-row page)" % args.rows)
    w("   %d reader processes, each its own connection, SELECT count(*) FROM bench.t WHERE id = <random> in a "
      "tight loop" % args.readers)
    w("   blocker: BEGIN; SELECT * FROM bench.t LIMIT 1; idle in transaction until %.0f s after the run starts "
      "waiting for the swap's lock" % args.hold)
    w("   latencies in ms; window = last 'rebuilding' sample .. commit of the swap; at commit = queries in flight "
      "at that commit")
    w("")
    row = "%-18s %7s %6s %6s %9s %7s %6s %6s %7s %6s %7s %7s %8s %8s %8s %6s %6s"
    w(row % ("", "lock_", "", "lock_", "lock_", "held", "base", "run", "run", "window", "window", "at", "srv lock",
             "srv stmt", "stalled", "stall", "reader"))
    w(row % ("scenario", "timeout", "run_s", "attmpt", "wait_ms", "ms", "p99", "p99", "max", "p99", "max", "commit",
             "wait max", "max", ">=%dms" % SLOW_MS, "in win", "errors"))
    for r in swaps:
        w(row % (r["scenario"], r["lock_timeout"], "%.1f" % r["run_s"], r["lock_attempts"], fmt(r["lock_wait_ms"]),
                 fmt(r["held_ms"]), fmt(r["baseline_p99"]), fmt(r["run_p99"]), fmt(r["run_max"]),
                 fmt(r["window_p99"]), fmt(r["window_max"]), fmt(r["commit_max"]), fmt(r["lock_wait_max"]),
                 fmt(r["srv_stmt_max"]), r["slow_n"], r["slow_in_window"], r["errors"]))
    w("   (held: swap window - lock_wait_ms, to the commit's timestamp; the lock is released after that, once the "
      "commit's WAL is flushed)")
    w("   (reader latencies in ms, measured by the clients; srv lock wait max: the readers' longest heavyweight-lock "
      "wait logged by the server, waits > %d ms only; srv stmt max: the readers' longest statement phase logged by "
      "the server, >= %d ms only; stalled: reader queries >= %d ms in the run, and of them in the swap window)"
      % (LOCK_LOG_MS, SLOW_MS, SLOW_MS))
    w("")
    for r in swaps:
        line = ("   %s: rebuild = %r; %d reader queries in the run (%d in the baseline, max %s ms); "
                "readers' max before the swap window %s ms; swap window %.0f ms (%d reader queries); the run's "
                "slowest query ended %+.0f ms from the commit; readers' lock waits > %d ms in the server log: %d "
                "(%d outside the swap window), longest %s ms%s; readers' statements >= %d ms in the server log: "
                "%d, longest outside the swap window %s ms"
                % (r["scenario"], r["rebuild"], r["run_n"], r["baseline_n"], fmt(r["baseline_max"]),
                   fmt(r["pre_swap_max"]), r["swap_window_ms"], r["window_n"], r["worst_offset_ms"], LOCK_LOG_MS,
                   r["lock_waits_n"], r["lock_waits_outside"], fmt(r["lock_wait_max"]),
                   "" if r["lock_wait_longest"] is None else " (began %+.0f ms from the window's start, acquired "
                   "%+.0f ms from the commit)" % r["lock_wait_longest"], SLOW_MS, r["srv_stmt_n"],
                   fmt(r["srv_stmt_outside_max"])))
        if r["blocker"]:
            line += ("; blocker idle in transaction %s s, released %s s after the swap's wait began%s"
                     % (fmt(r["blocker_held_s"], "%.2f"), fmt(r["blocker_after_wait_s"], "%.2f"),
                        (" (blocker error: %s)" % r["blocker_error"]) if r["blocker_error"] else ""))
        if r["first_error"]:
            line += "; first reader error: %s" % r["first_error"]
        w(line)
    w("")
    w("2. No-change run (declaration matches the table; page upserts existing ids); median of %d runs after a "
      "warm-up, ms" % args.nochange_runs)
    w("%-16s %10s %9s %12s %9s %9s %14s %s" % ("source", "table_rows", "page_rows", "wall_median", "wall_min",
                                              "wall_max", "server_median", "rebuild IS NULL (all runs)"))
    for r in nochanges:
        w("%-16s %10d %9d %12.1f %9.1f %9.1f %14.1f %s%s"
          % (r["source"], r["table_rows"], r["page_rows"], r["wall_median"], r["wall_min"], r["wall_max"],
             r["server_median"], "yes" if r["rebuild_all_null"] else "NO: %r" % r["rebuilds"],
             "" if r["statuses"] == "succeeded" else " (status %s)" % r["statuses"]))
    by = {(r["table_rows"], r["page_rows"]): r for r in nochanges}
    for page in (1, 100):
        big, small = by.get((args.rows, page)), by.get((10, page))
        if big and small:
            w("   page of %d: %d-row table %.1f ms vs 10-row table %.1f ms (ratio %.2f)"
              % (page, args.rows, big["wall_median"], small["wall_median"], big["wall_median"] / small["wall_median"]))
    w("   bench.big still holds %d rows" % big_count)
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000000)
    parser.add_argument("--readers", type=int, default=3, help="reader processes (default 3; the machine has 2 cores)")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the blocker holds on after the swap waits")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each swap scenario")
    parser.add_argument("--baseline", type=float, default=2.0, help="seconds of readers before each run")
    parser.add_argument("--tail", type=float, default=1.0, help="seconds of readers after each run")
    parser.add_argument("--nochange-runs", type=int, default=5)
    parser.add_argument("--scenarios", default=",".join(s[0] for s in SCENARIOS))
    parser.add_argument("--skip-nochange", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the cluster afterwards (its log stays)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra postgresql.conf setting, e.g. log_lock_waits=on (repeatable)")
    args = parser.parse_args()

    info = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")}
    try:
        info["commit"] = subprocess.check_output(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                                                 text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = "?"

    server = FixtureServer().start()
    cluster = Cluster("bench_swap", settings={
        "fsync": "on", "full_page_writes": "on", "max_wal_size": "4GB", "shared_buffers": "512MB",
        "track_commit_timestamp": "on", "shared_preload_libraries": "pg_bulk_ingest",
        "log_lock_waits": "on", "deadlock_timeout": "%dms" % LOCK_LOG_MS,
        "log_min_duration_statement": "%dms" % SLOW_MS,
        "bulk_ingest.database_name": DBNAME, "max_connections": "50"})
    for pair in args.set:
        key, _, value = pair.partition("=")
        cluster.settings[key.strip()] = value.strip()
    cluster.destroy()
    cluster.init()
    cluster.start()
    try:
        with cluster.connect() as admin:
            admin.execute("CREATE DATABASE %s" % DBNAME)
        with cluster.connect(dbname=DBNAME) as c:
            c.execute("CREATE EXTENSION pg_bulk_ingest")
        cluster.restart()  # the launcher finds its database
        db = cluster.connect(dbname=DBNAME)
        info["pg"] = db.execute("SHOW server_version").fetchone()[0]
        db.execute("CREATE SCHEMA bench")
        wanted = args.scenarios.split(",")
        swaps = []
        for rep in range(args.repeat):
            for name, lock_timeout, blocked in SCENARIOS:
                if name in wanted:
                    r = swap_scenario(cluster, db, server, args, name, lock_timeout, blocked)
                    if args.repeat > 1:
                        r["scenario"] = "%s#%d" % (name, rep + 1)
                    swaps.append(r)
        set_lock_timeout(cluster, db, "100ms")
        db.execute("DROP TABLE IF EXISTS bench.t")
        nochanges, big_count = ([], 0) if args.skip_nochange else nochange(db, server, args)
        text = report(args, swaps, nochanges, big_count, info)
        print("\n" + text)
        results_dir = os.path.join(HERE, "results")
        os.makedirs(results_dir, exist_ok=True)
        path = os.path.join(results_dir, "swap_lock_wait-%s.txt" % datetime.date.today().isoformat())
        with open(path, "w") as f:
            f.write(text)
        print("written to %s" % os.path.relpath(path, os.path.join(HERE, "..")))
    finally:
        if args.keep:
            cluster.stop()
            print("cluster kept: %s (log %s)" % (cluster.datadir, cluster.log_path))
        else:
            cluster.destroy()
        server.stop()


if __name__ == "__main__":
    main()
