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

from pgcluster import Cluster  # noqa: E402
from server import FixtureServer  # noqa: E402

STATEMENT_TIMEOUT_MS = int(os.environ.get("PG_BULK_INGEST_STATEMENT_TIMEOUT_MS", "60000"))


def _settings_from_env():
    settings = {}
    for pair in filter(None, os.environ.get("PG_BULK_INGEST_TEST_SETTINGS", "").split(";")):
        key, value = pair.split("=", 1)
        settings[key.strip()] = value.strip()
    return settings


# ---- clusters -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def make_cluster():
    """make_cluster(name, settings={...}) -> a started Cluster, stopped and deleted at the end of the session."""
    made = []

    def make(name, settings=None, port=None):
        c = Cluster("%s-%d" % (name, os.getpid()), port=port, settings=settings)
        c.init()
        made.append(c)
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
            if f.gate:
                f.gate.release()


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

    def create_role(self, name, *options):
        """Create a login role (roles are cluster-wide: the name is made unique to this database); dropped at the
        end of the test. Returns the role's actual name."""
        name = "%s_%s" % (self.name[:30], name)
        self.execute('CREATE ROLE "%s" LOGIN %s' % (name, " ".join(options)))
        self.roles.append(name)
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
