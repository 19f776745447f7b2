#!/usr/bin/python3
"""Benchmark of every workload of a user against PostgreSQL's own COPY, in the same run.

    /usr/bin/python3 bench/ingest_bench.py                  # 1M rows, NDJSON, JSON and CSV, median of 3
    /usr/bin/python3 bench/ingest_bench.py --10m            # 10M rows
    /usr/bin/python3 bench/ingest_bench.py --formats ndjson --workloads first_load,reingest_same --repeat 5
    /usr/bin/python3 bench/ingest_bench.py --latency-only   # the latency-bound pagination workloads alone
    /usr/bin/python3 bench/ingest_bench.py --no-change-rows 10000000   # a run with nothing new over 10M rows

Every workload loads the same rows into `bench.orders (id bigint primary key, customer text NOT NULL,
amount numeric(12,2), updated_at timestamptz, details jsonb)` with the defaults a user keeps (bulk_ingest_register
with columns and, where the workload says so, upsert/delete/high_watermark_column; nothing else). The yardstick,
`copy`, is a server-side `COPY bench.orders FROM '<file>.csv' (FORMAT csv)` of the same rows into the empty table,
measured in every repetition of every format, so that ratios compare runs made under the same load.

Workloads (rows served over loopback HTTP by a sendfile server, which costs the loading side almost nothing):
  copy              the yardstick (empty table, primary key in place)
  first_load        upsert into the empty table, default batch_rows (100,000): several batches
  first_load_1      the same in one batch (batch_rows above the row count)
  replace           delete => 'before_first_batch' over a full table
  append            upsert => 'off' into the empty table
  append_wm         append with high_watermark_column => 'updated_at'
  sql_same          what a user would write by hand: COPY into a temp table, INSERT ... ON CONFLICT DO UPDATE,
                    over a table already holding the same rows (the SQL staging path)
  reingest_same     bulk_ingest_run of the same rows over the full table (every row conflicts, nothing changed)
  sql_changed       the SQL staging path with every row's amount and updated_at changed
  reingest_changed  bulk_ingest_run of those changed rows
  no_change         a run whose source has nothing new (an empty response) over the full table: milliseconds
Latency-bound pagination (--latency / --latency-only; not against COPY): 200 pages of 1,000 records, each page
answered after 100 ms: link_header and cursor pagination, offset pagination one page at a time and with
options.concurrency = 8 (when the extension accepts it).

For each workload: median rows/s, the ratio to copy (and for re-ingests to the SQL staging path), the peak private
memory (RssAnon of the loading backend: the COPY session, or the run's background worker), WAL bytes written and new
row versions written (rows whose xmin is the workload's). Prints a table, writes it (markdown) and the raw samples
(JSON) to bench/results/, and a PNG chart with --chart (python3-matplotlib, see bench/requirements-apt.txt).
The cluster is the benchmark's own (fsync on, shared_buffers 512MB, max_wal_size 4GB); nothing here runs in CI.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

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
CSV_COLUMNS = [dict(c, path="/" + ("meta" if c["name"] == "details" else c["name"])) for c in COLUMNS]
TABLE_DDL = """CREATE TABLE bench.orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2),
               updated_at timestamptz, details jsonb)"""
FORMATS = ["ndjson", "json", "csv"]
WORKLOADS = ["copy", "sql_same", "reingest_same", "sql_changed", "reingest_changed", "no_change", "replace",
             "first_load", "first_load_1", "append", "append_wm"]
LATENCY_PAGES = 200
LATENCY_PAGE_ROWS = 1000
LATENCY_MS = 100


# ---- data ------------------------------------------------------------------------------------------------------

def record(i, changed):
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    customer = "customer-%d" % (i % 5000)
    cents = i % 10000000 + (7 if changed else 0)
    amount = "%d.%02d" % (cents // 100, cents % 100)
    ts = (start + datetime.timedelta(seconds=i + (86400 if changed else 0))).isoformat().replace("+00:00", "Z")
    meta = {"channel": ("web", "store", "phone")[i % 3], "items": [i % 7, i % 11], "note": "order %d" % i}
    return i, customer, amount, ts, json.dumps(meta, separators=(",", ":"))


def data_path(rows, fmt, changed=False, copy_csv=False):
    suffix = "copy.csv" if copy_csv else fmt
    return os.path.join(DATA_DIR, "orders-%d%s.%s" % (rows, "-changed" if changed else "", suffix))


def generate(rows):
    """Writes the rows as NDJSON, a JSON array, CSV with a header (what the extension reads) and CSV without one
    (what COPY reads), the original and the changed version of each row (once per row count)."""
    os.makedirs(DATA_DIR, exist_ok=True)
    os.chmod(DATA_DIR, 0o755)
    for changed in (False, True):
        paths = {fmt: data_path(rows, fmt, changed) for fmt in FORMATS}
        paths["copy"] = data_path(rows, "csv", changed, copy_csv=True)
        if all(os.path.exists(p) for p in paths.values()):
            continue
        print("generating %d rows%s ..." % (rows, " (changed)" if changed else ""), flush=True)
        files = {k: open(p + ".tmp", "w") for k, p in paths.items()}
        files["json"].write("[\n")
        files["csv"].write("id,customer,amount,updated_at,meta\n")
        for i in range(1, rows + 1):
            id_, customer, amount, ts, meta = record(i, changed)
            line = '{"id":%d,"customer":"%s","amount":%s,"updated_at":"%s","meta":%s}' % (id_, customer, amount,
                                                                                            ts, meta)
            files["ndjson"].write(line + "\n")
            files["json"].write(("," if i > 1 else "") + line + "\n")
            csv_line = '%d,%s,%s,%s,"%s"\n' % (id_, customer, amount, ts, meta.replace('"', '""'))
            files["csv"].write(csv_line)
            files["copy"].write(csv_line)
        files["json"].write("]\n")
        for k, f in files.items():
            f.close()
            os.rename(paths[k] + ".tmp", paths[k])
            os.chmod(paths[k], 0o644)


# ---- HTTP ------------------------------------------------------------------------------------------------------

class QuietServer(ThreadingHTTPServer):
    """Requests a run sent ahead for pages it then did not read (past the last page, or when it ended) are closed
    by the client: not an error of the benchmark."""

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """GET /file/<name>: a data file, sent with sendfile(2) (so the server costs the loading side nothing);
    GET /empty: an empty NDJSON body; GET /pages/<style>?...: the latency-bound pages."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path.startswith("/file/"):
            return self.send_file(os.path.join(DATA_DIR, os.path.basename(parts.path)))
        if parts.path == "/empty":
            return self.send_body(b"", "application/x-ndjson")
        if parts.path.startswith("/pages/"):
            return self.send_page(parts.path[len("/pages/"):], parse_qs(parts.query))
        self.send_error(404)

    def send_file(self, path):
        try:
            f = open(path, "rb")
        except OSError:
            return self.send_error(404)
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.flush()
            offset = 0
            while offset < size:
                sent = os.sendfile(self.connection.fileno(), f.fileno(), offset, size - offset)
                if sent == 0:
                    break
                offset += sent

    def send_body(self, body, content_type, headers=()):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    pages = {}

    def send_page(self, style, query):
        """Pages of LATENCY_PAGE_ROWS records, each answered after LATENCY_MS. style: link (Link header, ?page=n),
        cursor (JSON body with /next_cursor, ?cursor=n), offset (?offset=&limit=)."""
        started = time.monotonic()
        path_style = style
        delay_ms = LATENCY_MS
        if style.endswith("-nodelay"):
            style, delay_ms = style[:-len("-nodelay")], 0
        if style == "offset":
            page = int(query.get("offset", ["0"])[0]) // LATENCY_PAGE_ROWS
        elif style == "cursor":
            page = int(query.get("cursor", ["0"])[0] or 0)
        else:
            page = int(query.get("page", ["0"])[0])
        first = page * LATENCY_PAGE_ROWS + 1
        count = LATENCY_PAGE_ROWS if page < LATENCY_PAGES else 0
        if (first, count) not in Handler.pages:
            Handler.pages[(first, count)] = [
                '{"id":%d,"customer":"%s","amount":%s,"updated_at":"%s","meta":%s}' % record(i, False)
                for i in range(first, first + count)]
        lines = Handler.pages[(first, count)]
        time.sleep(max(0.0, delay_ms / 1000.0 - (time.monotonic() - started)))
        headers = []
        if style == "cursor":
            nxt = '"%d"' % (page + 1) if page + 1 < LATENCY_PAGES else "null"
            body = '{"records":[%s],"next_cursor":%s}' % (",".join(lines), nxt)
            return self.send_body(body.encode(), "application/json")
        if style == "link" and page + 1 < LATENCY_PAGES:
            headers.append(("Link", '</pages/%s?page=%d>; rel="next"' % (path_style, page + 1)))
        body = "".join(line + "\n" for line in lines)
        return self.send_body(body.encode(), "application/x-ndjson", headers)


# ---- measuring -------------------------------------------------------------------------------------------------

class MemorySampler(threading.Thread):
    """Samples the peak RssAnon of the process find_pid() names, until stopped."""

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


def sql_staging(db, path):
    """What a user would write by hand: COPY into a temporary table, then INSERT ... ON CONFLICT DO UPDATE."""
    with db.transaction():
        db.execute("CREATE TEMP TABLE stage (LIKE bench.orders) ON COMMIT DROP")
        db.execute("COPY stage FROM %s WITH (FORMAT csv)" % quote(path))
        db.execute("INSERT INTO bench.orders SELECT * FROM stage ON CONFLICT (id) DO UPDATE SET"
                   " customer = excluded.customer, amount = excluded.amount,"
                   " updated_at = excluded.updated_at, details = excluded.details")


def quote(s):
    return "'" + s.replace("'", "''") + "'"


class Bench:
    def __init__(self, args, port):
        self.args = args
        self.rows = args.rows
        self.port = port
        settings = {"fsync": "on", "full_page_writes": "on", "max_wal_size": "4GB", "shared_buffers": "512MB",
                    "checkpoint_timeout": "30min"}
        settings.update(dict(kv.split("=", 1) for kv in args.setting))
        self.cluster = Cluster("bench", settings=settings)
        self.samples = {}  # (format, workload) -> list of dicts

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def start(self):
        self.cluster.destroy()
        self.cluster.init()
        self.cluster.start()
        self.cluster.connect().execute("CREATE DATABASE bench")
        self.db = self.cluster.connect(dbname="bench")
        self.monitor = self.cluster.connect(dbname="bench")
        self.db.execute("CREATE EXTENSION pg_bulk_ingest")
        self.db.execute("CREATE SCHEMA bench")
        self.db.execute(TABLE_DDL)
        self.copy_pid = self.db.execute("SELECT pg_backend_pid()").fetchone()[0]

    def register(self, name, fmt, path, **kw):
        options = kw.pop("options", {})
        cols = CSV_COLUMNS if fmt == "csv" else COLUMNS
        extra = "".join(', "%s" => %%s' % k for k in kw)
        self.db.execute("SELECT bulk_ingest_register(%%s, %%s, 'bench.orders', %%s, format => %%s, options => %%s%s)"
                        % extra, (name, self.url(path), json.dumps(cols), fmt, json.dumps(options)) + tuple(kw.values()))

    def find_worker(self):
        row = self.monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run'").fetchone()
        return row[0] if row else None

    def wait_workers_gone(self):
        for _ in range(500):
            if self.find_worker() is None:
                return
            time.sleep(0.01)

    def table_stats(self):
        self.monitor.execute("SELECT pg_stat_clear_snapshot()")
        return self.monitor.execute(
            "SELECT coalesce(n_tup_ins, 0), coalesce(n_tup_upd, 0) FROM pg_stat_user_tables"
            " WHERE relid = 'bench.orders'::regclass").fetchone() or (0, 0)

    def reset(self, content):
        """Puts the table in the state a workload starts from: 'empty', 'original' or 'changed' rows."""
        self.db.execute("TRUNCATE bench.orders")
        if content != "empty":
            self.db.execute("COPY bench.orders FROM %s WITH (FORMAT csv)"
                            % quote(data_path(self.rows, "csv", content == "changed", copy_csv=True)))
        self.db.execute("VACUUM (ANALYZE) bench.orders")
        self.db.execute("CHECKPOINT")

    def measure(self, fmt, workload, action, pid_of):
        """Times action(); records seconds, peak private memory, WAL bytes and new row versions."""
        self.wait_workers_gone()
        xid = self.db.execute("SELECT pg_current_xact_id()::text::bigint % 4294967296").fetchone()[0]
        ins0, upd0 = self.table_stats()
        relid0 = self.db.execute("SELECT 'bench.orders'::regclass::oid").fetchone()[0]
        lsn0 = self.db.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        sampler = MemorySampler(pid_of)
        sampler.start()
        started = time.monotonic()
        action()
        elapsed = time.monotonic() - started
        peak_kb = sampler.stop()
        self.db.execute("SELECT pg_stat_force_next_flush()")  # this session's own counts (the SQL path)
        wal = self.db.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", (lsn0,)).fetchone()[0]
        self.wait_workers_gone()
        time.sleep(0.6)  # the worker's last statistics reach the cumulative statistics system
        ins1, upd1 = self.table_stats()
        written = self.db.execute("SELECT count(*) FROM bench.orders WHERE xmin::text::bigint >= %s",
                                  (xid,)).fetchone()[0]
        count = self.db.execute("SELECT count(*) FROM bench.orders").fetchone()[0]
        expected = self.rows
        if count != expected:
            raise SystemExit("%s/%s left %d rows, expected %d" % (fmt, workload, count, expected))
        # n_tup_upd of the table the workload found (NULL when it was swapped for a rebuilt one)
        same_table = relid0 == self.db.execute("SELECT 'bench.orders'::regclass::oid").fetchone()[0]
        sample = {"seconds": elapsed, "peak_kb": peak_kb, "wal_bytes": int(wal), "written": written,
                  "n_tup_ins": ins1 - ins0 if same_table else None, "n_tup_upd": upd1 - upd0 if same_table else None}
        self.samples.setdefault((fmt, workload), []).append(sample)
        print("  %-7s %-17s %7.3f s %10.0f rows/s  %6.1f MB  WAL %7.1f MB  written %8d  upd %8s"
              % (fmt, workload, elapsed, self.rows / elapsed, peak_kb / 1024, wal / 2**20, written,
                 sample["n_tup_upd"]), flush=True)

    def run_source(self, name, watermark="__EARLIEST__"):
        def action():
            row = self.db.execute("SELECT status FROM bulk_ingest_run(%s, %s)", (name, watermark)).fetchone()
            del row
        return action

    def format_block(self, fmt):
        rows = self.rows
        original = "/file/" + os.path.basename(data_path(rows, fmt))
        changed = "/file/" + os.path.basename(data_path(rows, fmt, True))
        self.register("first_load", fmt, original)
        self.register("first_load_1", fmt, original, options={"batch_rows": rows + 1})
        self.register("replace", fmt, original, delete="before_first_batch")
        self.register("append", fmt, original, upsert="off")
        self.register("append_wm", fmt, original, upsert="off", high_watermark_column="updated_at")
        self.register("reingest_same", fmt, original)
        self.register("reingest_changed", fmt, changed)
        self.register("no_change", "ndjson", "/empty")
        copy_file = data_path(rows, "csv", copy_csv=True)
        changed_file = data_path(rows, "csv", True, copy_csv=True)
        worker = self.find_worker
        copy_backend = lambda: self.copy_pid  # noqa: E731

        def sql_staging_of(path):
            return lambda: sql_staging(self.db, path)

        plan = {
            "copy": ("empty", lambda: self.db.execute("COPY bench.orders FROM %s WITH (FORMAT csv)"
                                                       % quote(copy_file)), copy_backend),
            "sql_same": ("original", sql_staging_of(copy_file), copy_backend),
            "reingest_same": ("original", self.run_source("reingest_same"), worker),
            "sql_changed": ("original", sql_staging_of(changed_file), copy_backend),
            "reingest_changed": ("original", self.run_source("reingest_changed"), worker),
            "no_change": ("original", self.run_source("no_change"), worker),
            "replace": ("original", self.run_source("replace"), worker),
            "first_load": ("empty", self.run_source("first_load"), worker),
            "first_load_1": ("empty", self.run_source("first_load_1"), worker),
            "append": ("empty", self.run_source("append"), worker),
            "append_wm": ("empty", self.run_source("append_wm"), worker),
        }
        for workload in self.args.workloads:
            if fmt != self.args.formats[0] and workload in ("sql_same", "sql_changed", "no_change"):
                continue
            if fmt != self.args.formats[0] and self.args.other_workloads and workload != "copy" \
                    and workload not in self.args.other_workloads:
                continue  # the same for every format: measured with the first one
            content, action, pid_of = plan[workload]
            self.reset(content)
            self.measure(fmt, workload, action, pid_of)

    def no_change_block(self, rows):
        """A run with nothing new over a table of `rows` rows (filled by generate_series, no data files) and over a
        table of 1 row: the milliseconds a no-change run costs beyond its HTTP request, and whether they grow with
        the table."""
        self.register("no_change_big", "ndjson", "/empty")
        for size in (1, rows):
            self.db.execute("TRUNCATE bench.orders")
            self.db.execute("INSERT INTO bench.orders SELECT i, 'customer-' || (i %% 5000), (i %% 10000000) / 100.0,"
                            " timestamptz '2026-01-01' + i * interval '1 second', '{\"n\": 1}'"
                            " FROM generate_series(1, %d) i" % size)
            self.db.execute("VACUUM (ANALYZE) bench.orders")
            self.db.execute("CHECKPOINT")
            self.run_source("no_change_big")()  # a first run: the catalog caches of the worker's session are cold
            for _ in range(self.args.repeat):
                self.wait_workers_gone()
                started = time.monotonic()
                self.run_source("no_change_big")()
                elapsed = time.monotonic() - started
                self.samples.setdefault(("no_change_rows", "%d" % size), []).append({"seconds": elapsed})
                print("  no_change over %d rows: %.1f ms" % (size, elapsed * 1000), flush=True)
        self.db.execute("TRUNCATE bench.orders")

    def latency_block(self):
        base = {"batch_rows": 100000}
        self.register("lat_nodelay", "ndjson", "/pages/link-nodelay?page=0", options=base)
        self.register("lat_link", "ndjson", "/pages/link?page=0", options=base)
        self.register("lat_cursor", "json", "/pages/cursor",
                      options=dict(base, records_path="/records",
                                   pagination={"type": "cursor", "path": "/next_cursor", "param": "cursor"}))
        offset = {"type": "offset", "param": "offset", "limit_param": "limit", "limit": LATENCY_PAGE_ROWS}
        self.register("lat_offset", "ndjson", "/pages/offset", options=dict(base, pagination=offset))
        contenders = ["lat_nodelay", "lat_link", "lat_cursor", "lat_offset"]
        try:
            self.register("lat_offset_c8", "ndjson", "/pages/offset",
                          options=dict(base, pagination=offset, concurrency=8))
            contenders.append("lat_offset_c8")
        except Exception as e:  # an extension without options.concurrency
            print("  (options.concurrency not accepted: %s)" % str(e).splitlines()[0])
        for name in contenders:
            self.db.execute("TRUNCATE bench.orders")
            started = time.monotonic()
            self.run_source(name)()
            elapsed = time.monotonic() - started
            count = self.db.execute("SELECT count(*) FROM bench.orders").fetchone()[0]
            if count != LATENCY_PAGES * LATENCY_PAGE_ROWS:
                raise SystemExit("%s loaded %d rows" % (name, count))
            self.samples.setdefault(("latency", name), []).append({"seconds": elapsed})
            print("  latency %-14s %7.2f s" % (name, elapsed), flush=True)


# ---- reporting -------------------------------------------------------------------------------------------------

def median(samples, key):
    return statistics.median(s[key] for s in samples)


def report(bench, args):
    rows = bench.rows
    lines = []
    out = lines.append
    load = open("/proc/loadavg").read().split()[:3]
    out("%d rows, median of %d, %s, %d CPUs, load average before/after: %s / %s" % (
        rows, args.repeat, platform.node(), os.cpu_count(), args.load_before, " ".join(load)))
    out("")
    out("| format | workload | rows/s | x COPY | x SQL staging | peak private MB | WAL MB | row versions written"
        " | n_tup_upd |")
    out("|---|---|---|---|---|---|---|---|---|")
    chart = []
    for fmt in args.formats:
        copy = bench.samples.get((fmt, "copy"))
        copy_rate = rows / median(copy, "seconds") if copy else None
        for workload in args.workloads:
            s = bench.samples.get((fmt, workload))
            if not s or (fmt != args.formats[0] and workload in ("sql_same", "sql_changed", "no_change")):
                continue
            secs = median(s, "seconds")
            rate = rows / secs
            ratio = "%.2f" % (rate / copy_rate) if copy_rate else ""
            vs_sql = ""
            if workload in ("reingest_same", "reingest_changed"):
                sql = bench.samples.get((args.formats[0], workload.replace("reingest", "sql")))
                if sql:
                    vs_sql = "%.2f" % (median(sql, "seconds") / secs)
            shown_rate = "%.0f ms" % (secs * 1000) if workload == "no_change" else "{:,.0f}".format(rate)
            if workload == "no_change":
                ratio = ""
            upd = [x["n_tup_upd"] for x in s if x["n_tup_upd"] is not None]
            out("| %s | %s | %s | %s | %s | %.1f | %.1f | %d | %s |" % (
                fmt, workload, shown_rate, ratio, vs_sql, max(x["peak_kb"] for x in s) / 1024,
                median(s, "wal_bytes") / 2**20, int(median(s, "written")),
                "%d" % statistics.median(upd) if upd else "(rebuilt)"))
            if workload != "no_change":
                chart.append((fmt, workload, rate, copy_rate))
    big = {k[1]: v for k, v in bench.samples.items() if k[0] == "no_change_rows"}
    if big:
        out("")
        out("A run with nothing new (an empty response), over a table of N rows: median of %d" % args.repeat)
        out("")
        out("| rows in the table | ms per run |")
        out("|---|---|")
        for size, s in sorted(big.items(), key=lambda kv: int(kv[0])):
            out("| {:,} | {:.1f} |".format(int(size), median(s, "seconds") * 1000))
    lat = {k[1]: v for k, v in bench.samples.items() if k[0] == "latency"}
    if lat:
        out("")
        out("Latency-bound pagination: %d pages of %d records, %d ms per page" % (LATENCY_PAGES, LATENCY_PAGE_ROWS,
                                                                                LATENCY_MS))
        out("")
        out("| source | seconds | x fetch-then-load |")
        out("|---|---|---|")
        # Fetching each page, then loading it, takes the load time of the pages without latency plus the latency
        # of every page: the yardstick of the overlapped and concurrent contenders.
        serial = median(lat["lat_nodelay"], "seconds") + LATENCY_PAGES * LATENCY_MS / 1000.0
        out("| fetch-then-load (lat_nodelay + %d x %d ms) | %.2f | 1.00 |" % (LATENCY_PAGES, LATENCY_MS, serial))
        for name, s in lat.items():
            secs = median(s, "seconds")
            out("| %s | %.2f | %s |" % (name, secs, "%.2f" % (serial / secs) if name != "lat_nodelay" else ""))
    text = "\n".join(lines)
    print("\n" + text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    stamp = datetime.date.today().isoformat()
    with open(os.path.join(HERE, "results", "ingest_bench-%d-%s.md" % (rows, stamp)), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(HERE, "results", "ingest_bench-%d-%s.json" % (rows, stamp)), "w") as f:
        json.dump({"rows": rows, "load_before": args.load_before,
                   "samples": {"%s/%s" % k: v for k, v in bench.samples.items()}}, f, indent=1)
    if args.chart and chart:
        draw_chart(chart, rows, args.chart)


def draw_chart(chart, rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    formats = sorted({c[0] for c in chart}, key=FORMATS.index)
    workloads = [w for w in WORKLOADS if any(c[1] == w for c in chart)]
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(formats)
    for i, fmt in enumerate(formats):
        xs, ys = [], []
        for j, w in enumerate(workloads):
            for c in chart:
                if c[0] == fmt and c[1] == w:
                    xs.append(j + i * width)
                    ys.append(c[2] / 1000)
        ax.bar(xs, ys, width, label=fmt)
    copy_rates = [c[3] for c in chart if c[3]]
    if copy_rates:
        ax.axhline(statistics.median(copy_rates) / 1000, color="black", linestyle="--", linewidth=1,
                   label="COPY FROM file (median)")
    ax.set_xticks([j + width * (len(formats) - 1) / 2 for j in range(len(workloads))])
    ax.set_xticklabels(workloads, rotation=30, ha="right")
    ax.set_ylabel("thousand rows/s")
    ax.set_title("pg_bulk_ingest, %s rows per workload (median), against COPY in the same run" % "{:,}".format(rows))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print("chart: %s" % path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000000)
    parser.add_argument("--10m", dest="ten_million", action="store_true", help="10,000,000 rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--other-workloads", default="",
                        help="the workloads of the formats after the first (default: the same as the first's)")
    parser.add_argument("--latency", action="store_true", help="also the latency-bound pagination workloads")
    parser.add_argument("--latency-only", action="store_true")
    parser.add_argument("--no-change-rows", type=int, default=0, metavar="N",
                        help="also a run with nothing new over a table of N rows (filled without data files) and over "
                             "one of 1 row, e.g. 10000000")
    parser.add_argument("--chart", help="write a PNG chart of rows/s per workload there")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting of the benchmark's cluster (repeatable), e.g. autovacuum=off")
    args = parser.parse_args()
    if args.ten_million:
        args.rows = 10000000
    args.formats = [f for f in args.formats.split(",") if f]
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.other_workloads = [w for w in args.other_workloads.split(",") if w]
    if "copy" not in args.workloads:
        args.workloads.insert(0, "copy")
    for w in args.workloads:
        if w not in WORKLOADS:
            parser.error("unknown workload %s" % w)
    if args.latency_only:
        args.workloads, args.formats, args.latency = [], [], True
    if args.no_change_rows and args.workloads == WORKLOADS and args.formats == FORMATS and not args.latency:
        args.workloads, args.formats = [], []  # --no-change-rows alone: that block only
    args.load_before = open("/proc/loadavg").read().split()[:3]
    args.load_before = " ".join(args.load_before)

    if args.formats:
        generate(args.rows)
    server = QuietServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bench = Bench(args, server.server_address[1])
    bench.start()
    try:
        for rep in range(args.repeat):
            print("repetition %d" % (rep + 1), flush=True)
            for fmt in args.formats:
                bench.format_block(fmt)
            if args.latency:
                bench.latency_block()
        if args.no_change_rows:
            bench.no_change_block(args.no_change_rows)
        report(bench, args)
    finally:
        bench.cluster.destroy()
        server.shutdown()


if __name__ == "__main__":
    main()
