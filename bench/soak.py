#!/usr/bin/python3
"""Load and soak (issue 10): many sources scheduled every second for minutes, some failing, some slow.

    /usr/bin/python3 bench/soak.py                       # 50 sources, every second, max_workers 4, 10 minutes
    /usr/bin/python3 bench/soak.py --minutes 2 --sources 20

Not part of CI (scripts/test.sh); scripts/soak.sh runs it against a private install. One preloaded cluster (its
launcher serves database `soak`) and the fixture HTTP server on 127.0.0.1. The sources:

  good    (70 %)  a dataset of orders that grows by 3 records every second: every run loads what is new
  failing (16 %)  half answer 503 (max_retries 0), half send a line that is not JSON after good ones (the batch fails)
  slow    (14 %)  each record comes after 0.4 s (chunked), one new record every 5 s: a run takes seconds, so the ticks
                  in between are skipped

Every source is scheduled with bulk_ingest_schedule(source, '1 second'); bulk_ingest.max_workers = 4 and
bulk_ingest.history_retention = 120 s (so that pruning happens within the soak). Sampled every 5 s: the private memory
(RssAnon of /proc/<pid>/status) of the launcher (and the supervisor, when there is one: not with
bulk_ingest.database_name) and every run's worker alive at that moment, the rows of
bulk_ingest.runs; every second: the latency of a probe query on a connection of its own. Every row of
bulk_ingest.runs is read while it exists (before the retention prunes it), so that at the end every source's seconds
are accounted for: each second of the soak lies in a run (started_at..finished_at), in the span of a skipped row
(the ticks that found a run in flight), or within the launcher's tick of one (a gap between two of a source's events
longer than --max-gap seconds is a missed due run).

Checks (the exit status is non-zero when one fails): no missed due run; no good source waits more than --max-wait
(60 s) between two successful runs; launcher and worker private memory in the last minute
within 10 % of the first minute's (medians); bulk_ingest.runs never more rows than the retention allows
(sources x (retention / interval + slack)); the probe's p99 under 1 s; the server log without crash or leak lines.
Writes the table to bench/results/soak-<date>.txt.
"""

import argparse
import datetime
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "test", "lib"))
sys.path.insert(0, os.path.join(ROOT, "test", "fixtures"))
from pgcluster import Cluster  # noqa: E402
from server import Fault, FixtureServer  # noqa: E402
from testdata import ORDER_COLUMNS, orders  # noqa: E402
import serverlog  # noqa: E402

from psycopg.types.json import Jsonb  # noqa: E402

RETENTION_S = 120


def private_kb(pid):
    """RssAnon: the private memory a process holds (its RSS without the shared buffers it has touched)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def extension_processes(postmaster):
    """(pid, kind) of the postmaster's children that are pg_bulk_ingest's: supervisor, launcher, worker (a run's)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                title = f.read().decode("utf-8", "replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid != postmaster or "pg_bulk_ingest" not in title:
            continue
        kind = "supervisor" if "supervisor" in title else "launcher" if "launcher" in title else "worker"
        found.append((int(entry), kind))
    return found


def kinds(n):
    """The kind of each of n sources: 70 % good, 16 % failing, 14 % slow."""
    failing = max(2, round(n * 0.16))
    slow = max(1, round(n * 0.14))
    good = n - failing - slow
    return ["good"] * good + ["fail_status"] * (failing // 2) + ["fail_data"] * (failing - failing // 2) + \
        ["slow"] * slow


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--sources", type=int, default=50)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--max-gap", type=float, default=3.0,
                   help="the longest a source may go without a run or a skip recorded, in seconds")
    p.add_argument("--max-wait", type=float, default=60.0,
                   help="the longest a good source may wait between two successful runs, in seconds")
    p.add_argument("--keep", action="store_true", help="keep the cluster afterwards")
    args = p.parse_args()
    duration = args.minutes * 60

    server = FixtureServer().start()
    names = []
    next_id = {}
    for i, kind in enumerate(kinds(args.sources)):
        name = "s%02d_%s" % (i, kind)
        names.append((name, kind))
        ds = server.add_dataset(name, orders(range(1, 6)), page_size=100)
        next_id[name] = 6
        if kind == "fail_status":
            ds.faults.append(Fault(status=503))
        elif kind == "fail_data":
            ds.faults.append(Fault(malformed_record=3))
        elif kind == "slow":
            ds.faults.append(Fault(delay=0.4))

    cluster = Cluster("soak", settings={"max_worker_processes": str(args.workers + 12), "max_connections": "60"})
    cluster.destroy()
    cluster.init()
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("CREATE DATABASE soak")
    with cluster.connect(dbname="soak") as conn:
        conn.execute("CREATE EXTENSION pg_bulk_ingest")
    cluster.write_settings(**{"shared_preload_libraries": "pg_bulk_ingest", "bulk_ingest.database_name": "soak",
                              "bulk_ingest.max_workers": str(args.workers),
                              "bulk_ingest.history_retention": str(RETENTION_S)})
    cluster.restart()
    log_start = cluster.log_offset()
    postmaster = cluster.postmaster_pid()
    db = cluster.connect(dbname="soak")
    for name, kind in names:
        options = {"max_retries": 0} if kind == "fail_status" else {}
        db.execute("SELECT bulk_ingest_register(source => %s, url => %s, target => %s, columns => %s,"
                   " high_watermark_column => 'updated_at', options => %s)",
                   (name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, Jsonb(ORDER_COLUMNS),
                    Jsonb(options)))
    start = time.time()
    t0 = datetime.datetime.now(datetime.timezone.utc)
    for name, _ in names:
        db.execute("SELECT bulk_ingest_schedule(%s, '1 second'::interval)", (name,))
    print("soak: %d sources (%s), every second, max_workers %d, %.0f minutes; cluster %s" % (
        len(names), ", ".join("%d %s" % (sum(1 for _, k in names if k == kk), kk)
                              for kk in ("good", "fail_status", "fail_data", "slow")),
        args.workers, args.minutes, cluster.root), flush=True)

    stop = threading.Event()
    probes = []   # (t, seconds)

    def probe():
        conn = cluster.connect(dbname="soak")
        while not stop.is_set():
            t = time.time()
            conn.execute("SELECT count(*) FROM bulk_ingest.sources").fetchone()
            probes.append((t - start, time.time() - t))
            stop.wait(max(0.0, 1.0 - (time.time() - t)))
        conn.close()

    def grow():
        # New records so that runs have something to load: 3 a second at each good source, 1 every 5 s at each slow
        # one (a slow source must serve faster than it grows, or its run never ends and holds a worker for ever).
        tick = 0
        while not stop.is_set():
            for name, kind in names:
                if kind == "good" or (kind == "slow" and tick % 5 == 0):
                    k = 3 if kind == "good" else 1
                    n = next_id[name]
                    server.dataset(name).add(orders(range(n, n + k)))
                    next_id[name] = n + k
            tick += 1
            stop.wait(1.0)

    threads = [threading.Thread(target=probe, daemon=True), threading.Thread(target=grow, daemon=True)]
    for t in threads:
        t.start()

    runs = {}        # id -> the latest state seen
    samples = []     # (t, {"supervisor": [kb], "launcher": [kb], "worker": [kb]}, rows in bulk_ingest.runs)
    while time.time() - start < duration:
        time.sleep(5)
        t = time.time() - start
        procs = {"supervisor": [], "launcher": [], "worker": []}
        for pid, kind in extension_processes(postmaster):
            kb = private_kb(pid)
            if kb:
                procs[kind].append(kb)
        count = db.execute("SELECT count(*) FROM bulk_ingest.runs").fetchone()[0]
        for r in db.execute("SELECT id, source, status, trigger, started_at, finished_at, skip_count, rows"
                            "  FROM bulk_ingest.runs").fetchall():
            runs[r[0]] = r
        samples.append((t, procs, count))
        if len(samples) % 12 == 0:
            print("  %4.0f s: %d rows in bulk_ingest.runs, launcher %s kB, workers %s kB, probe max %.0f ms" % (
                t, count, procs["launcher"], procs["worker"],
                1000 * max((s for pt, s in probes if pt > t - 60), default=0)), flush=True)

    # Unschedule, let what is in flight finish, read the last rows.
    for name, _ in names:
        db.execute("SELECT bulk_ingest_schedule(%s, NULL)", (name,))
    end = time.time() - start
    t_end = datetime.datetime.now(datetime.timezone.utc)
    deadline = time.time() + 60
    while time.time() < deadline and db.execute(
            "SELECT count(*) FROM bulk_ingest.runs WHERE status IN ('queued', 'running')").fetchone()[0]:
        time.sleep(0.5)
    for r in db.execute("SELECT id, source, status, trigger, started_at, finished_at, skip_count, rows"
                        "  FROM bulk_ingest.runs").fetchall():
        runs[r[0]] = r
    stop.set()
    for t in threads:
        t.join(timeout=5)

    # ---- accounting: every second of every source is in a run, a skipped row's span, or a short gap
    by_source = {name: [] for name, _ in names}
    for r in runs.values():
        if r[1] in by_source:
            by_source[r[1]].append(r)
    lines = []
    failures = []
    status_counts = {}
    skip_ticks = 0
    gaps = []
    starved = []
    for name, kind in names:
        events = sorted(by_source[name], key=lambda r: r[4])
        spans = []
        for r in events:
            status_counts.setdefault((kind, r[2]), 0)
            status_counts[(kind, r[2])] += 1
            if r[2] == "skipped":
                skip_ticks += r[6] or 1
            spans.append((r[4], r[5] or t_end))
        # The longest stretch of [t0, t_end] that no run or skipped span covers.
        covered_to = t0
        worst = 0.0
        for s, e in spans:
            if s > covered_to:
                worst = max(worst, (s - covered_to).total_seconds())
            covered_to = max(covered_to, e)
        if t_end > covered_to:
            worst = max(worst, (t_end - covered_to).total_seconds())
        gaps.append((worst, name))
        if worst > args.max_gap:
            failures.append("%s went %.1f s without a run or a skip" % (name, worst))
        if kind == "good":
            # A good source is not starved: its longest wait between two loads (from the soak's start to the first,
            # from the last to the soak's end).
            ok = [r[4] for r in events if r[2] == "succeeded"]
            points = [t0] + ok + [t_end]
            longest = max((b - a).total_seconds() for a, b in zip(points, points[1:]))
            starved.append((longest, name))
            if longest > args.max_wait:
                failures.append("%s waited %.0f s between two successful runs" % (name, longest))

    def minute(kind, first):
        lo, hi = (0, 60) if first else (end - 60, end + 1)
        return [kb for t, procs, _ in samples if lo <= t < hi for kb in procs[kind]]

    lines.append("soak of %s: %d sources every second, bulk_ingest.max_workers %d, %.1f minutes, retention %d s" % (
        t0.strftime("%Y-%m-%d %H:%M UTC"), len(names), args.workers, end / 60, RETENTION_S))
    lines.append("")
    statuses = sorted({st for (_, st) in status_counts})
    lines.append("| kind | sources | %s | median run (s) |" % " | ".join(statuses))
    lines.append("|---|---|%s---|" % ("---|" * len(statuses)))
    for kind in ("good", "fail_status", "fail_data", "slow"):
        n = sum(1 for _, k in names if k == kind)
        took = [(r[5] - r[4]).total_seconds() for name, k in names if k == kind for r in by_source[name]
                if r[2] in ("succeeded", "failed") and r[5] is not None]
        lines.append("| %s | %d | %s | %.2f |" % (kind, n, " | ".join(str(status_counts.get((kind, st), 0))
                                                                     for st in statuses), median(took)))
    done = sum(c for (_, st), c in status_counts.items() if st in ("succeeded", "failed"))
    lines.append("")
    lines.append("runs that ran: %d in %.0f s (%.1f a second with %d workers)" % (done, end, done / end, args.workers))
    lines.append("")
    lines.append("ticks that found a run in flight (sum of skip_count): %d" % skip_ticks)
    worst_gap, worst_name = max(gaps)
    lines.append("longest stretch of a source with neither a run nor a skip recorded: %.1f s (%s; limit %.1f s)" % (
        worst_gap, worst_name, args.max_gap))
    longest, longest_name = max(starved)
    lines.append("longest wait of a good source between two successful runs: %.0f s (%s; limit %.0f s)" % (
        longest, longest_name, args.max_wait))
    for kind in ("supervisor", "launcher", "worker"):
        first, last = minute(kind, True), minute(kind, False)
        if not first or not last:
            lines.append("%s: no process seen in the first or the last minute" % kind)
            if kind == "launcher":
                failures.append("no launcher seen in the first or the last minute")
            continue
        a, b = median(first), median(last)
        growth = (b - a) / a * 100
        lines.append("%s private memory (RssAnon), median of the first minute %.0f kB, of the last %.0f kB: %+.1f %%" % (
            kind, a, b, growth))
        if kind in ("launcher", "worker") and growth > 10:
            failures.append("%s memory grew %.1f %% (first minute %.0f kB, last %.0f kB)" % (kind, growth, a, b))
    counts = [c for _, _, c in samples]
    bound = len(names) * (RETENTION_S + 60)
    lines.append("rows in bulk_ingest.runs: max %d, at the end %d (bound: %d sources x (%d s retention + 60 s))" % (
        max(counts), counts[-1], len(names), RETENTION_S, ))
    if max(counts) > bound:
        failures.append("bulk_ingest.runs held %d rows, more than %d" % (max(counts), bound))
    latencies = [s * 1000 for _, s in probes]
    lines.append("probe query (SELECT count(*) FROM bulk_ingest.sources, every second, %d samples): p50 %.1f ms, "
                 "p99 %.1f ms, max %.1f ms" % (len(latencies), pct(latencies, 50), pct(latencies, 99),
                                               max(latencies)))
    if pct(latencies, 99) > 1000:
        failures.append("the probe's p99 is %.0f ms" % pct(latencies, 99))
    problems = serverlog.problems(cluster.log_since(log_start)) if hasattr(serverlog, "problems") else []
    lines.append("server log: %s" % ("no crash or leak line" if not problems else "%d bad lines" % len(problems)))
    failures.extend("server log: %s" % p for p in problems[:10])
    lines.append("")
    lines.append("result: %s" % ("PASS" if not failures else "FAIL\n  " + "\n  ".join(failures)))
    text = "\n".join(lines)
    print("\n" + text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    out = os.path.join(HERE, "results", "soak-%s.txt" % t0.strftime("%Y-%m-%d"))
    with open(out, "w") as f:
        f.write(text + "\n")
    print("written to %s" % out)

    db.close()
    server.stop()
    if args.keep:
        cluster.stop()
    else:
        cluster.destroy()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
