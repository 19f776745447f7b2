"""Crash safety, point by point (issue 10): a run is stopped at a named point (bulk_ingest.test_pause_at), then its
worker is killed with SIGKILL, or the launcher is, or the server stops in immediate mode. After recovery and one
more run: the target equals the source exactly (nothing missing, nothing twice, the values of the last upsert), no
reader ever saw part of a batch, the watermark is that of the committed data, no scratch table or temporary file is
left, and bulk_ingest.runs says what happened. Results are tabled in docs/reliability.md.

One preloaded cluster serves every case (a crash restart takes about a second). Each case declares its own source:
    append     upsert off into a table that has rows (pages of 6, batches of 3)
    upsert     upserts that change every row of a populated table and add new ones
    fastpath   the first load of a new table (loaded without its key, the key built, swapped in)
    migration  a declaration that adds a column: the first batch rebuilds the table and swaps it in
    replace    delete => 'before_first_batch': the first batch swaps a fresh table in
"""

import os
import re
import signal
import threading
import time

import psycopg
import pytest

from conftest import start_preloaded_cluster, wait_for_launcher
from server import Fault
from testdata import ORDER_COLUMNS, orders, tsval

DBNAME = "crashdb"
BATCH = 3
PAGE = 6

NOTE_COLUMNS = ORDER_COLUMNS + [{"name": "note", "type": "text"}]

# (mode, point): every point each mode reaches, the kill of the worker at each.
CASES = [
    ("append", "before_first_request"), ("append", "before_copy"), ("append", "mid_copy"),
    ("append", "after_copy"), ("append", "before_watermark"), ("append", "before_commit"),
    ("append", "after_commit"), ("append", "between_pages"), ("append", "in_retry_wait"),
    ("append", "before_finish"),
    ("upsert", "mid_copy"), ("upsert", "before_merge"), ("upsert", "after_merge"), ("upsert", "before_commit"),
    ("upsert", "after_commit:2"),
    ("fastpath", "mid_copy"), ("fastpath", "mid_rebuild"), ("fastpath", "before_swap"), ("fastpath", "after_swap"),
    ("fastpath", "after_commit"),
    ("migration", "mid_rebuild"), ("migration", "before_swap"), ("migration", "after_swap"),
    ("migration", "before_commit"),
    ("replace", "mid_copy"), ("replace", "mid_rebuild"), ("replace", "before_swap"), ("replace", "after_swap"),
    ("replace", "after_commit"),
]
# Each is tried with three kills: the run's worker (SIGKILL), the launcher (SIGKILL; the run is a queued one, started
# by the launcher), and an immediate-mode stop of the server. Either SIGKILL makes the postmaster restart every
# backend (crash recovery), as a real crash would.
KILLS = ("worker", "launcher", "immediate")
MATRIX = [(m, p, k) for m, p in CASES for k in KILLS]


@pytest.fixture(scope="module")
def crash_cluster(make_cluster):
    c = start_preloaded_cluster(make_cluster, "crash", DBNAME, settings={"restart_after_crash": "on"})
    wait_for_launcher(c)
    yield c
    c.stop()


@pytest.fixture(autouse=True)
def no_pause_left(request):
    """A failed test must not leave its pause point set for the next ones (their runs would stop there)."""
    yield
    if "crash_cluster" in request.fixturenames:
        cluster = request.getfixturevalue("crash_cluster")
        if cluster.is_running():
            wait_until_up(cluster)
            with cluster.connect(dbname=DBNAME) as conn:
                conn.execute("ALTER DATABASE %s RESET bulk_ingest.test_pause_at" % DBNAME)


class Crash:
    """The crash database, through a new connection per statement (connections do not survive a crash)."""

    def __init__(self, cluster):
        self.cluster = cluster

    def query(self, sql, params=None):
        with self.cluster.connect(dbname=DBNAME) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []

    def scalar(self, sql, params=None):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def register(self, source, url, columns, **kw):
        from psycopg.types.json import Jsonb
        args = {"source": source, "url": url, "target": "public." + source, "columns": Jsonb(columns)}
        for k, v in kw.items():
            args[k] = Jsonb(v) if k == "options" else v
        self.query("SELECT bulk_ingest_register(%s)" % ", ".join('"%s" => %%s' % k for k in args),
                   list(args.values()))

    def run(self, source):
        with self.cluster.connect(dbname=DBNAME) as conn:
            conn.execute("SET statement_timeout = '60s'")
            return conn.execute("SELECT status, rows, error FROM bulk_ingest_run(%s)", (source,)).fetchone()

    def pause_at(self, point):
        if point is None:
            self.query("ALTER DATABASE %s RESET bulk_ingest.test_pause_at" % DBNAME)
        else:
            self.query("ALTER DATABASE %s SET bulk_ingest.test_pause_at = '%s'" % (DBNAME, point))


def wait_until_up(cluster, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with cluster.connect(dbname=DBNAME) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise AssertionError("the server did not come back; log:\n%s" % cluster.log_tail(60))
            time.sleep(0.1)


def paused_pid(db, point, timeout=30):
    name = point.split(":")[0]
    deadline = time.monotonic() + timeout
    while True:
        pid = db.scalar("SELECT pid FROM pg_stat_activity WHERE query = %s", ("pg_bulk_ingest: paused at " + name,))
        if pid:
            return pid
        if time.monotonic() > deadline:
            raise AssertionError("no run paused at %s; log:\n%s" % (point, db.cluster.log_tail(40)))
        time.sleep(0.02)


# ---- the modes: what is there before, what the source holds, what a reader may see --------------------------------

def v2(recs):
    for r in recs:
        r["customer"] = "v2 customer %d" % r["id"]
        r["updated_at"] = r["updated_at"].replace("2024-01-", "2024-03-")
    return recs


class Mode:
    """Sets a source up for one mode; `expected` is what the target must hold in the end."""

    def __init__(self, mode, name, db, server):
        self.mode, self.name, self.db, self.server = mode, name, db, server
        url = server.url("/%s?since={high_watermark}" % name)
        wm = {"high_watermark_column": "updated_at"}
        opts = {"batch_rows": BATCH, "max_retries": 3}
        if mode == "append":
            ds = server.add_dataset(name, orders(range(1, 7)), page_size=PAGE)
            db.register(name, url, ORDER_COLUMNS, upsert="off", options=opts, **wm)
            self.setup_run()
            ds.add(orders(range(7, 25)))
            self.expected = orders(range(1, 25))
        elif mode == "upsert":
            ds = server.add_dataset(name, orders(range(1, 19)), page_size=PAGE)
            db.register(name, url, ORDER_COLUMNS, options=opts, **wm)
            self.setup_run()
            ds.records[:] = v2(orders(range(1, 25)))
            self.expected = v2(orders(range(1, 25)))
        elif mode == "fastpath":
            server.add_dataset(name, orders(range(1, 19)), page_size=PAGE)
            db.register(name, url, ORDER_COLUMNS, options=opts, **wm)
            self.expected = orders(range(1, 19))
        elif mode == "migration":
            ds = server.add_dataset(name, orders(range(1, 7)), page_size=PAGE)
            db.register(name, url, ORDER_COLUMNS, options=opts, **wm)
            self.setup_run()
            db.register(name, url, NOTE_COLUMNS, options=opts, **wm)  # a new column: the next batch rebuilds
            ds.add(orders(range(7, 19), note="a note"))
            self.expected = orders(range(1, 7)) + orders(range(7, 19), note="a note")
        elif mode == "replace":
            ds = server.add_dataset(name, orders(range(1, 7)), page_size=PAGE, field=None)
            db.register(name, server.url("/" + name), ORDER_COLUMNS, options=opts, delete="before_first_batch")
            self.setup_run()
            ds.records[:] = orders(range(101, 119))
            self.expected = orders(range(101, 119))
        self.watermarked = mode != "replace"

    def setup_run(self):
        row = self.db.run(self.name)
        assert row[0] == "succeeded", row

    def reader_query(self):
        t = "public." + self.name
        if self.mode == "upsert":
            return "SELECT count(*) FILTER (WHERE customer LIKE 'v2%%'), count(*) FROM %s" % t
        if self.mode == "replace":
            return "SELECT count(*) FILTER (WHERE id > 100), count(*) FILTER (WHERE id <= 100) FROM %s" % t
        return "SELECT count(*), 0 FROM %s" % t

    def reader_ok(self, a, b):
        """Whether a reader's view is made of whole batches."""
        if self.mode == "replace":
            return (a == 0 and b == 6) or (b == 0 and a % BATCH == 0)
        return a % BATCH == 0

    def target_rows(self):
        cols = "id, customer, amount::text, updated_at" + (", note" if self.mode == "migration" else "")
        return [tuple(r) for r in self.db.query("SELECT %s FROM public.%s ORDER BY id" % (cols, self.name))]

    def expected_rows(self):
        out = []
        for r in sorted(self.expected, key=lambda r: r["id"]):
            row = (r["id"], r["customer"], r["amount"],
                   tsval(0).__class__.fromisoformat(r["updated_at"].replace("Z", "+00:00")))
            out.append(row + ((r.get("note"),) if self.mode == "migration" else ()))
        return out


class Reader(threading.Thread):
    """Reads the target in a loop while the run goes on; records any view that is not made of whole batches."""

    def __init__(self, db, mode):
        super().__init__(daemon=True)
        self.db, self.mode = db, mode
        self.stop_flag = threading.Event()
        self.bad = []
        self.reads = 0

    def run(self):
        try:
            with self.db.cluster.connect(dbname=DBNAME) as conn:
                conn.execute("SET lock_timeout = '200ms'")
                while not self.stop_flag.is_set():
                    try:
                        a, b = conn.execute(self.mode.reader_query()).fetchone()
                    except (psycopg.errors.LockNotAvailable, psycopg.errors.UndefinedTable):
                        continue  # waiting for a swap, or the run has not created the table yet
                    self.reads += 1
                    if not self.mode.reader_ok(a, b):
                        self.bad.append((a, b))
                    time.sleep(0.005)
        except psycopg.Error:
            pass  # the kill ended the connection

    def stop(self):
        self.stop_flag.set()
        self.join(10)


def wait_for_recovery(cluster, offset, timeout=60):
    """After a SIGKILL: waits until the postmaster has noticed it, reset every backend and is ready again (until then
    connections may still succeed, then fail with "the database system is in recovery mode")."""
    deadline = time.monotonic() + timeout
    while True:
        log = cluster.log_since(offset)
        reset = log.find("all server processes terminated; reinitializing")
        if reset >= 0 and "database system is ready to accept connections" in log[reset:]:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the server did not recover from the kill; log:\n%s" % log[-3000:])
        time.sleep(0.05)


def kill(db, kind, pid):
    cluster = db.cluster
    offset = cluster.log_offset()
    if kind == "worker":
        os.kill(pid, signal.SIGKILL)
        wait_for_recovery(cluster, offset)
        return pid
    if kind == "launcher":
        launcher = db.scalar("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest launcher'")
        os.kill(launcher, signal.SIGKILL)
        wait_for_recovery(cluster, offset)
        return launcher
    cluster.stop(mode="immediate")
    cluster.start()
    return None


@pytest.mark.parametrize("mode,point,kind", MATRIX, ids=["%s-%s-%s" % c for c in MATRIX])
def test_a_kill_at_a_point_loses_nothing_and_loads_nothing_twice(crash_cluster, server, mode, point, kind,
                                                                  expect_log):
    db = Crash(crash_cluster)
    wait_until_up(crash_cluster)
    wait_for_launcher(crash_cluster)
    name = re.sub(r"[^a-z0-9]+", "_", "c_%s_%s_%s" % (mode, point, kind))
    setup = Mode(mode, name, db, server)
    if point == "in_retry_wait":
        server.dataset(name).faults.append(Fault(page=2, status=503, headers={"Retry-After": "30"}, times=1))
    offset = crash_cluster.log_offset()

    db.pause_at(point)
    reader = Reader(db, setup)
    reader.start()
    caller = None
    if kind == "launcher":
        db.query("SELECT bulk_ingest_start(%s)", (name,))  # a queued run: the launcher's worker
    else:
        caller = threading.Thread(target=lambda: _ignore_errors(db.run, name), daemon=True)
        caller.start()
    pid = paused_pid(db, point)
    killed = kill(db, kind, pid)
    if killed is not None:
        # The kill and the crash recovery it causes are this test's own (the check below: no other process died).
        expect_log(r"\(PID %d\) was terminated by signal 9" % killed, r"terminating any other active server processes",
                   r"all server processes terminated; reinitializing")
    reader.stop()
    wait_until_up(crash_cluster)
    wait_for_launcher(crash_cluster)
    if caller is not None:
        caller.join(30)

    # One more run, without the pause.
    db.pause_at(None)
    status, _, error = db.run(name)
    assert status == "succeeded", error

    assert setup.target_rows() == setup.expected_rows()
    assert reader.bad == [], "a reader saw part of a batch: %r" % reader.bad[:5]
    if setup.watermarked:
        assert db.scalar("SELECT value::timestamptz FROM bulk_ingest.watermarks WHERE source = %s", (name,)) == \
            db.scalar("SELECT max(updated_at) FROM public.%s" % name)
    assert db.query("SELECT relname FROM pg_class WHERE relname ~ '^bulk_ingest_(rebuild|stage|probe)'") == []
    assert db.scalar("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                     " WHERE n.nspname LIKE 'pg_temp%%'") == 0
    assert db.scalar("SELECT count(*) FROM pg_ls_tmpdir()") == 0
    runs = db.query("SELECT status, error FROM bulk_ingest.runs WHERE source = %s ORDER BY id", (name,))
    interrupted = runs[-2]
    assert interrupted[0] == "failed" and re.search(r"restarted|crashed|disappeared", interrupted[1]), runs
    assert runs[-1][0] == "succeeded", runs

    log = crash_cluster.log_since(offset)
    signalled = set(int(p) for p in re.findall(r"\(PID (\d+)\) was terminated by signal", log))
    assert signalled <= ({killed} if killed else set()), "processes the test did not kill died: %s" % log[-3000:]
    for bad in ("PANIC", "TRAP:", "leaked", "resource was not closed"):
        assert bad not in log, log[-3000:]
    print("\n%s at %s, %s killed: %d reads, the interrupted run: %s" % (mode, point, kind, reader.reads,
                                                                       interrupted[1]))


def _ignore_errors(fn, *args):
    try:
        fn(*args)
    except psycopg.Error:
        pass


# ---- the testing aid itself ------------------------------------------------------------------------------------

def test_a_paused_run_resumes_on_sigusr2_and_on_a_reload(crash_cluster, server):
    db = Crash(crash_cluster)
    wait_until_up(crash_cluster)
    server.add_dataset("resume", orders(range(1, 7)), page_size=PAGE)
    db.register("resume", server.url("/resume?since={high_watermark}"), ORDER_COLUMNS,
                high_watermark_column="updated_at", options={"batch_rows": BATCH})
    # SIGUSR2: the run goes on from where it stopped (the second batch: the first swapped the new table in).
    db.pause_at("before_commit:2")
    result = {}
    t = threading.Thread(target=lambda: result.update(row=db.run("resume")), daemon=True)
    t.start()
    pid = paused_pid(db, "before_commit")
    assert db.scalar("SELECT phase FROM bulk_ingest.progress WHERE pid = %s", (pid,)) == "paused at before_commit"
    time.sleep(0.3)
    assert t.is_alive() and db.scalar("SELECT count(*) FROM public.resume") == BATCH
    os.kill(pid, signal.SIGUSR2)
    t.join(20)
    assert result["row"][0] == "succeeded" and result["row"][1] == 6, result
    db.pause_at(None)
    # A reload that no longer names the point (the setting made with ALTER SYSTEM this time).
    server.dataset("resume").add(orders(range(7, 10)))
    db.query("ALTER SYSTEM SET bulk_ingest.test_pause_at = 'after_commit'")
    db.query("SELECT pg_reload_conf()")
    try:
        t = threading.Thread(target=lambda: result.update(row=db.run("resume")), daemon=True)
        t.start()
        paused_pid(db, "after_commit")
        assert db.scalar("SELECT count(*) FROM public.resume") == 9  # the batch committed, the run held
    finally:
        db.query("ALTER SYSTEM RESET bulk_ingest.test_pause_at")
        db.query("SELECT pg_reload_conf()")
    t.join(20)
    assert not t.is_alive() and result["row"][0] == "succeeded", result


def test_only_a_superuser_may_set_test_pause_at(crash_cluster):
    db = Crash(crash_cluster)
    wait_until_up(crash_cluster)
    db.query("DROP ROLE IF EXISTS crash_plain")
    db.query("CREATE ROLE crash_plain LOGIN")
    try:
        with crash_cluster.connect(dbname=DBNAME, user="crash_plain") as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SET bulk_ingest.test_pause_at = 'before_commit'")
    finally:
        db.query("DROP ROLE crash_plain")
