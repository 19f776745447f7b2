"""Fixtures of pg_bulk_ingest's integration tests: a real cluster, a real HTTP server, a fresh database per test.

- `cluster` (session): a throwaway PostgreSQL 15 cluster (test/lib/pgcluster.py). The extension must be installed
  system-wide (`make install`) before the tests run. Environment:
    PG_BULK_INGEST_TEST_PORT       port of the cluster (default: a free one from 54320 up)
    PG_BULK_INGEST_TEST_SETTINGS   extra postgresql.conf settings, "key=value;key=value"
    PG_BULK_INGEST_KEEP_CLUSTER=1  do not delete the cluster at the end (its log stays for inspection)
- `make_cluster` (session): a factory for more clusters with their own settings (preloaded libraries, restarts).
- `http` (session) / `server` (per test, reset): the fixture HTTP server (test/fixtures/server.py) on 127.0.0.1.
- `db` (per test): a new database with `CREATE EXTENSION pg_bulk_ingest`, wrapped in `TestDB` helpers; dropped
  afterwards. On failure the server log lines written during the test are printed.
- The server log of every cluster the session made is watched (test/lib/serverlog.py): a test fails when a log gains
  a line that says a process crashed or leaked while it runs (its setup and teardown included), unless the test
  declared it with `expect_log(pattern, ...)` (a fixture) or `@pytest.mark.expect_log(pattern, ...)`.
"""

import os
import re
import sys
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))

import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

import serverlog  # noqa: E402
from pgcluster import Cluster  # noqa: E402
from server import FixtureServer  # noqa: E402

STATEMENT_TIMEOUT_MS = int(os.environ.get("PG_BULK_INGEST_STATEMENT_TIMEOUT_MS", "60000"))


def _settings_from_env():
    settings = {}
    for pair in filter(None, os.environ.get("PG_BULK_INGEST_TEST_SETTINGS", "").split(";")):
        key, value = pair.split("=", 1)
        settings[key.strip()] = value.strip()
    return settings


# ---- the server log -----------------------------------------------------------------------------------------------
#
# Every cluster make_cluster made is watched. After each test (its fixtures' teardown included) the log of each is
# read from where the previous check stopped: lines written before the test started (between tests: a module's
# fixtures) must have no crash at all; lines written since the test started may have the ones it declared.

WATCHED = []  # the clusters of the session, in the order they were made


def pytest_configure(config):
    config.addinivalue_line("markers", "expect_log(pattern, ...): server log lines (regular expressions) this test "
                                       "causes on purpose, e.g. a process it kills")


class LogWatch:
    """What the test declared it causes in the server log."""

    def __init__(self):
        self.expected = []

    def expect(self, *patterns):
        self.expected.extend(patterns)


def _log_problems(watch, starts):
    """(cluster, line, what it means) of every watched log line since the last check that no test may write."""
    found = []
    for c in WATCHED:
        checked = getattr(c, "log_checked", 0)
        start = starts.get(id(c), checked)  # a cluster made during the test: all it wrote is the test's
        if checked < start:
            between, _ = serverlog.read_log(c.log_path, checked, start)
            found += [(c.name + ", before the test", line, why) for line, why in serverlog.problems(between)]
        text, c.log_checked = serverlog.read_log(c.log_path, start)
        found += [(c.name, line, why) for line, why in serverlog.problems(text, watch.expected)]
    return found


@pytest.fixture(autouse=True)
def server_log_watch(request):
    """Fails the test when a watched server log gains a crash or leak line the test did not declare."""
    watch = LogWatch()
    for mark in request.node.iter_markers("expect_log"):
        watch.expect(*mark.args)
    starts = {id(c): c.log_offset() for c in WATCHED}
    yield watch
    found = _log_problems(watch, starts)
    if found:
        pytest.fail("the server log has %d line(s) this test did not declare (expect_log):\n%s"
                    % (len(found), "\n".join("  [%s] %s\n      (%s)" % f for f in found[:20])), pytrace=False)


@pytest.fixture
def expect_log(server_log_watch):
    """expect_log(pattern, ...): declare server log lines (regular expressions) the test causes on purpose."""
    return server_log_watch.expect


# ---- clusters -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def make_cluster():
    """make_cluster(name, settings={...}) -> a started Cluster, stopped and deleted at the end of the session. Its
    server log is watched (see server_log_watch)."""
    made = []

    def make(name, settings=None, port=None):
        c = Cluster("%s-%d" % (name, os.getpid()), port=port, settings=settings)
        c.init()
        made.append(c)
        WATCHED.append(c)
        c.start()
        return c

    yield make
    for c in made:
        if os.environ.get("PG_BULK_INGEST_KEEP_CLUSTER"):
            c.stop()
            print("\nkept cluster %s (log %s)" % (c.datadir, c.log_path))
        else:
            c.destroy()


@pytest.fixture(scope="session")
def cluster(make_cluster):
    port = os.environ.get("PG_BULK_INGEST_TEST_PORT")
    c = make_cluster("pytest", settings=_settings_from_env(), port=int(port) if port else None)
    check_extension(c)
    return c


def check_extension(c):
    """Stop the whole session with one clear message when the extension cannot be created at all."""
    with c.connect() as conn:
        conn.execute("DROP DATABASE IF EXISTS extension_check")
        conn.execute("CREATE DATABASE extension_check")
    try:
        with c.connect(dbname="extension_check") as conn:
            conn.execute("CREATE EXTENSION pg_bulk_ingest")
    except psycopg.Error as e:
        pytest.exit("CREATE EXTENSION pg_bulk_ingest fails on the test cluster (is it built and installed with "
                    "`make && make install`?): %s" % str(e).strip(), returncode=3)
    finally:
        with c.connect() as conn:
            conn.execute("DROP DATABASE IF EXISTS extension_check")


# ---- the HTTP server ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def http():
    srv = FixtureServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def server(http):
    """The fixture server with no datasets, no routes and an empty request log."""
    http.reset()
    yield http
    # Let any response still held at a gate finish, so the next test starts clean.
    for ds in list(http.datasets.values()):
        for f in ds.faults:
            for gate in (f.gate, f.headers_gate):
                if gate:
                    gate.release()


# ---- databases --------------------------------------------------------------------------------------------------

class RunFailed(Exception):
    pass


class TestDB:
    """A database of the test cluster with the extension created, and helpers to drive it."""

    __test__ = False  # not a test class

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.conns = []
        self.roles = []
        self.conn = self.connect()

    # connections
    def connect(self, user="postgres", autocommit=True, **kw):
        conn = self.cluster.connect(dbname=self.name, user=user, autocommit=autocommit, row_factory=dict_row,
                                    options="-c statement_timeout=%d" % STATEMENT_TIMEOUT_MS, **kw)
        self.conns.append(conn)
        return conn

    def close(self):
        for c in self.conns:
            try:
                c.close()
            except Exception:
                pass

    # plain SQL
    def execute(self, sql, params=None, conn=None):
        (conn or self.conn).execute(sql, params)

    def query(self, sql, params=None, conn=None):
        return (conn or self.conn).execute(sql, params).fetchall()

    def one(self, sql, params=None, conn=None):
        rows = self.query(sql, params, conn)
        assert len(rows) == 1, "expected one row, got %d: %r" % (len(rows), rows)
        return rows[0]

    def scalar(self, sql, params=None, conn=None):
        row = self.one(sql, params, conn)
        return next(iter(row.values()))

    def count(self, table, conn=None):
        return self.scalar("SELECT count(*) FROM %s" % table, conn=conn)

    def create_role(self, name, *options, ingest=True):
        """Create a login role (roles are cluster-wide: the name is made unique to this database); dropped at the
        end of the test. With ingest (the default) it is made a member of bulk_ingest_user, the documented step
        that lets a role use the extension. Returns the role's actual name."""
        name = "%s_%s" % (self.name[:30], name)
        self.execute('CREATE ROLE "%s" LOGIN %s' % (name, " ".join(options)))
        self.roles.append(name)
        if ingest:
            self.execute('GRANT bulk_ingest_user TO "%s"' % name)
        return name

    # the extension
    def register(self, source, url, target, columns, conn=None, **kw):
        """bulk_ingest_register with named arguments; columns/options may be Python lists/dicts."""
        args = {"source": source, "url": url, "target": target, "columns": columns}
        args.update(kw)
        parts, params = [], []
        for key, value in args.items():
            if key in ("columns", "options") and not isinstance(value, str):
                value = Jsonb(value)
            elif key in ("columns", "options"):
                parts.append('"%s" => %%s::jsonb' % key)
                params.append(value)
                continue
            parts.append('"%s" => %%s' % key)
            params.append(value)
        return self.one("SELECT * FROM bulk_ingest_register(%s)" % ", ".join(parts), params, conn)

    def run(self, source, high_watermark=None, conn=None):
        """bulk_ingest_run; returns the run's row (a dict). A failed run raises psycopg.Error."""
        if high_watermark is None:
            return self.one("SELECT * FROM bulk_ingest_run(%s)", (source,), conn)
        return self.one("SELECT * FROM bulk_ingest_run(%s, %s)", (source, high_watermark), conn)

    def run_fails(self, source, high_watermark=None, conn=None):
        """Run a source that must fail; returns (the error message, the run's row from bulk_ingest.runs)."""
        with pytest.raises(psycopg.Error) as excinfo:
            self.run(source, high_watermark, conn)
        msg = str(excinfo.value)
        return msg, self.last_run(source)

    def run_in_thread(self, source, high_watermark=None, user="postgres"):
        """Start bulk_ingest_run on its own connection in a thread; returns a RunThread (join() -> row or raises)."""
        return RunThread(self, source, high_watermark, user)

    def last_run(self, source):
        rows = self.query("SELECT * FROM bulk_ingest.runs WHERE source = %s ORDER BY id DESC LIMIT 1", (source,))
        return rows[0] if rows else None

    def runs(self, source):
        return self.query("SELECT * FROM bulk_ingest.runs WHERE source = %s ORDER BY id", (source,))

    def watermark(self, source, as_type=None):
        """The stored watermark's text (or cast to `as_type` by PostgreSQL), None when there is none."""
        expr = "value" if as_type is None else "value::%s" % as_type
        rows = self.query("SELECT %s AS v FROM bulk_ingest.watermarks WHERE source = %%s" % expr, (source,))
        return rows[0]["v"] if rows else None


class RunThread(threading.Thread):
    def __init__(self, db, source, high_watermark, user):
        super().__init__(daemon=True, name="run-%s" % source)
        self.db, self.source, self.high_watermark = db, source, high_watermark
        self.conn = db.connect(user=user)
        self.pid = self.conn.info.backend_pid
        self.result = None
        self.error = None
        self.start()

    def run(self):
        try:
            self.result = self.db.run(self.source, self.high_watermark, conn=self.conn)
        except BaseException as e:  # noqa: B902 - handed to the test
            self.error = e

    def wait(self, timeout=60):
        """Wait for the run; return its row or raise its error."""
        self.join(timeout)
        assert not self.is_alive(), "bulk_ingest_run(%r) did not return within %ss" % (self.source, timeout)
        if self.error is not None:
            raise self.error
        return self.result


_db_counter = [0]


@pytest.fixture
def db(cluster, request):
    _db_counter[0] += 1
    name = "t%d_%s" % (_db_counter[0], re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()))[:50]
    log_offset = cluster.log_offset()
    with cluster.connect() as admin:
        admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        admin.execute('CREATE DATABASE "%s"' % name)
    d = TestDB(cluster, name)
    d.execute("CREATE EXTENSION pg_bulk_ingest")
    yield d
    d.close()
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        print("\n---- server log during %s ----\n%s" % (request.node.name, cluster.log_since(log_offset)[-20000:]))
    with cluster.connect() as admin:
        admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        for role in d.roles:
            admin.execute('DROP ROLE IF EXISTS "%s"' % role)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# ---- the launcher and its workers (shared_preload_libraries = 'pg_bulk_ingest') ----------------------------------
#
# The launcher serves one database (bulk_ingest.database_name), so the tests of scheduling and workers share one
# preloaded cluster (`bg_cluster`) and one database in it (`bgdb`), cleaned after each test: schedules cleared, runs
# in flight cancelled, sources unregistered, targets dropped, run history deleted, settings reset.

LAUNCHER_DATABASE = "bulk_ingest_bg"
IN_FLIGHT = ("queued", "running")


def start_preloaded_cluster(make_cluster, name, dbname, libraries="pg_bulk_ingest", settings=None):
    """A cluster with the library preloaded and its launcher serving `dbname`, where the extension is created.

    The cluster starts without the libraries (a launcher started before its database exists would fail to connect),
    the database and the extension are created, then the server restarts with them preloaded."""
    c = make_cluster(name, settings=dict(settings or {}))
    with c.connect() as conn:
        conn.execute('CREATE DATABASE "%s"' % dbname)
    with c.connect(dbname=dbname) as conn:
        conn.execute("CREATE EXTENSION pg_bulk_ingest")
    c.write_settings(**{"shared_preload_libraries": libraries, "bulk_ingest.database_name": dbname})
    c.restart()
    return c


def launcher_pids(cluster):
    with cluster.connect() as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest launcher'").fetchall()]


def wait_for_launcher(cluster, timeout=20.0):
    """The launcher's pid once it shows in pg_stat_activity; fails the test (with the log's tail) otherwise."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        pids = launcher_pids(cluster)
        if pids:
            assert len(pids) == 1, "more than one launcher: %r" % pids
            return pids[0]
        if time.monotonic() > deadline:
            raise AssertionError("no 'pg_bulk_ingest launcher' in pg_stat_activity after %ss; log:\n%s"
                                 % (timeout, cluster.log_tail(60)))
        time.sleep(0.1)


class BgDB(TestDB):
    """A TestDB in the launcher's database, with helpers for the launcher's interface and a cleanup."""

    __test__ = False

    def __init__(self, cluster, name):
        super().__init__(cluster, name)
        self.changed_settings = set()

    # the interface
    def start(self, source, high_watermark=None, conn=None):
        """bulk_ingest_start: the queued run's id."""
        if high_watermark is None:
            return self.scalar("SELECT bulk_ingest_start(%s)", (source,), conn)
        return self.scalar("SELECT bulk_ingest_start(%s, %s)", (source, high_watermark), conn)

    def cancel(self, run_id, conn=None):
        return self.scalar("SELECT bulk_ingest_cancel(%s)", (run_id,), conn)

    def schedule(self, source, every, conn=None):
        self.execute("SELECT bulk_ingest_schedule(%s, %s::interval)", (source, every), conn)

    def source_row(self, source):
        return self.one("SELECT * FROM bulk_ingest.sources WHERE source = %s", (source,))

    def rows_in(self, table):
        """count(*) of a table, 0 while it does not exist yet (a run creates it)."""
        if self.scalar("SELECT to_regclass(%s) IS NULL", (table,)):
            return 0
        return self.count(table)

    def run_row(self, run_id):
        rows = self.query("SELECT * FROM bulk_ingest.runs WHERE id = %s", (run_id,))
        return rows[0] if rows else None

    def wait_run(self, run_id, timeout=30.0):
        """The run's row once it is no longer queued or running; fails the test after `timeout` seconds."""
        import time
        deadline = time.monotonic() + timeout
        while True:
            row = self.run_row(run_id)
            if row is not None and row["status"] not in IN_FLIGHT:
                return row
            if time.monotonic() > deadline:
                raise AssertionError("run %s still %s after %ss" % (run_id, row and row["status"], timeout))
            time.sleep(0.05)

    def progress(self, source=None, conn=None):
        if source is None:
            return self.query("SELECT * FROM bulk_ingest.progress ORDER BY run_id", conn=conn)
        return self.query("SELECT * FROM bulk_ingest.progress WHERE source = %s ORDER BY run_id", (source,), conn)

    def worker_pids(self, conn=None):
        return [r["pid"] for r in self.query(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run' ORDER BY pid", conn=conn)]

    def launcher_pid(self, timeout=20.0):
        return wait_for_launcher(self.cluster, timeout)

    def set_config(self, name, value):
        """ALTER SYSTEM SET + pg_reload_conf (reset after the test); returns the value a new session sees, once the
        launcher has also acted on it (a whole pass of the launcher began after the reload: wait_launcher_pass)."""
        import time
        self.execute("ALTER SYSTEM SET %s = %s" % (name, "'%s'" % str(value).replace("'", "''")))
        self.changed_settings.add(name)
        self.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while True:
            # A new session has the value once the postmaster has re-read the file, and so has signalled the
            # launcher (the postmaster signals its children before it forks another backend).
            with self.cluster.connect(dbname=self.name) as conn:
                shown = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0]
            if shown == str(value) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if launcher_pids(self.cluster):
            self.wait_launcher_pass()
        return shown

    def wait_launcher_pass(self, timeout=20.0):
        """Returns once the launcher has done a whole pass (queue due sources, start queued runs, prune) that began
        after this call, so it has acted on everything committed, signalled or reloaded before the call. The launcher
        is woken for it (pg_reload_conf); fails the test when no such pass ends within `timeout` seconds."""
        import time
        after = self.scalar("SELECT clock_timestamp()")
        self.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + timeout
        while True:
            rows = self.query("SELECT state, query_start > %s AS after FROM pg_stat_activity "
                              "WHERE backend_type = 'pg_bulk_ingest launcher'", (after,))
            if rows and rows[0]["state"] == "idle" and rows[0]["after"]:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the launcher did no pass within %ss: %r; log:\n%s"
                                     % (timeout, rows, self.cluster.log_tail(30)))
            time.sleep(0.02)

    # cleanup
    def cleanup(self, timeout=20.0):
        """Leave the launcher's database as found: no schedules, nothing in flight, no sources, no history."""
        import time
        errors = []

        def attempt(sql, params=None):
            try:
                with self.cluster.connect(dbname=self.name) as conn:
                    cur = conn.execute(sql, params)
                    return cur.fetchall() if cur.description is not None else []
            except Exception as e:  # noqa: B902 - cleanup goes on; reported below
                errors.append("%s: %s" % (sql, str(e).strip()))
                return []

        for name in sorted(self.changed_settings):
            attempt("ALTER SYSTEM RESET %s" % name)
        if self.changed_settings:
            attempt("SELECT pg_reload_conf()")
        attempt("SELECT bulk_ingest_schedule(source, NULL) FROM bulk_ingest.sources WHERE schedule IS NOT NULL")
        attempt("SELECT bulk_ingest_cancel(id) FROM bulk_ingest.runs WHERE status IN ('queued', 'running')")
        deadline = time.monotonic() + timeout
        while True:
            in_flight = attempt("SELECT id, source, status FROM bulk_ingest.runs WHERE status IN ('queued', 'running')")
            if not in_flight:
                break
            if time.monotonic() > deadline:
                errors.append("runs still in flight %.0f s after bulk_ingest_cancel: %r" % (timeout, in_flight))
                break
            time.sleep(0.1)
        for (target,) in attempt("SELECT target FROM bulk_ingest.sources"):
            attempt("DROP TABLE IF EXISTS %s" % target)
        attempt("SELECT bulk_ingest_unregister(source) FROM bulk_ingest.sources")
        attempt("DELETE FROM bulk_ingest.runs WHERE status NOT IN ('queued', 'running')")
        self.close()
        for role in self.roles:
            attempt('DROP OWNED BY "%s"' % role)
            try:
                with self.cluster.connect() as conn:
                    conn.execute('DROP ROLE IF EXISTS "%s"' % role)
            except Exception as e:  # noqa: B902 - reported below
                errors.append('DROP ROLE "%s": %s' % (role, str(e).strip()))
        return errors


@pytest.fixture(scope="session")
def bg_cluster(make_cluster):
    """A cluster with the library preloaded; its launcher serves LAUNCHER_DATABASE."""
    c = start_preloaded_cluster(make_cluster, "bg", LAUNCHER_DATABASE)
    wait_for_launcher(c)
    return c


@pytest.fixture
def make_bgdb(request):
    """make_bgdb(cluster, dbname) -> a BgDB on an existing database with the extension; cleaned up after the
    test, and the cluster's log during the test printed when it failed."""
    made = []

    def make(cluster, dbname):
        d = BgDB(cluster, dbname)
        made.append((d, cluster.log_offset()))
        return d

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    errors = []
    for d, offset in made:
        if failed:
            print("\n---- server log of %s during %s ----\n%s"
                  % (d.cluster.name, request.node.name, d.cluster.log_since(offset)[-20000:]))
        if d.cluster.is_running():
            errors += ["%s: %s" % (d.name, e) for e in d.cleanup()]
    # A leaked schedule, run or source would break a later test (or nothing): the test that left it fails.
    if errors:
        pytest.fail("the cleanup after %s failed:\n  %s" % (request.node.name, "\n  ".join(errors)), pytrace=False)


@pytest.fixture
def bgdb(bg_cluster, make_bgdb):
    """The launcher's database of `bg_cluster` (the extension created), cleaned after the test."""
    return make_bgdb(bg_cluster, LAUNCHER_DATABASE)
