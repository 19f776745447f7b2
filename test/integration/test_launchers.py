"""One supervisor, a launcher in every database that has the extension (bulk_ingest.databases = '*', the default),
or in the databases a list names: schedules and bulk_ingest_start work in each; a launcher appears when CREATE
EXTENSION commits and leaves at DROP EXTENSION or DROP DATABASE; a restart finds them all again."""

import time

import psycopg
import pytest

from conftest import TestDB
from testdata import ORDER_COLUMNS, orders, wait_for


def launchers(cluster):
    """{database: pid} of the launchers, and the supervisors' pids."""
    with cluster.connect() as conn:
        rows = conn.execute("SELECT datname, pid, backend_type FROM pg_stat_activity"
                            " WHERE backend_type IN ('pg_bulk_ingest launcher', 'pg_bulk_ingest supervisor')"
                            ).fetchall()
    return ({r[0]: r[1] for r in rows if r[2] == "pg_bulk_ingest launcher"},
            [r[1] for r in rows if r[2] == "pg_bulk_ingest supervisor"])


def wait_launchers(cluster, expected, timeout=20):
    """Waits until the databases with a launcher are exactly `expected`; returns {database: pid}."""
    got = wait_for(lambda: set(launchers(cluster)[0]) == set(expected) and launchers(cluster)[0], timeout=timeout,
                   interval=0.1)
    assert got and set(got) == set(expected), (launchers(cluster), cluster.log_tail(30))
    return got


def scheduled_runs(cluster, dbname, source):
    with cluster.connect(dbname=dbname) as conn:
        return conn.execute("SELECT status, rows FROM bulk_ingest.runs WHERE source = %s AND \"trigger\" = 'schedule'"
                            " AND status NOT IN ('queued', 'running')", (source,)).fetchall()


@pytest.fixture(scope="module")
def multi(make_cluster):
    c = make_cluster("launchers", settings={"shared_preload_libraries": "pg_bulk_ingest"})
    yield c
    c.stop()


def test_a_launcher_in_every_database_with_the_extension(multi, server):
    c = multi
    offset = c.log_offset()
    assert wait_for(lambda: launchers(c)[1], timeout=20), c.log_tail(20)
    _, supervisors = launchers(c)
    assert len(supervisors) == 1
    with c.connect() as admin:
        for name in ("ma", "mb", "mc"):
            admin.execute('CREATE DATABASE "%s"' % name)
    for name in ("ma", "mb"):
        with c.connect(dbname=name) as conn:
            conn.execute("CREATE EXTENSION pg_bulk_ingest")
    first = wait_launchers(c, ["ma", "mb"])  # woken when CREATE EXTENSION commits

    # Schedules and bulk_ingest_start work in each.
    for name in ("ma", "mb"):
        server.add_dataset("src_" + name, orders(range(1, 4)))
        db = TestDB(c, name)
        try:
            db.register("src_" + name, server.url("/src_%s?since={high_watermark}" % name), "public.t", ORDER_COLUMNS,
                        high_watermark_column="updated_at", options={"schedule": "1 hour"})
            assert wait_for(lambda: scheduled_runs(c, name, "src_" + name), timeout=20) == [("succeeded", 3)]
            server.dataset("src_" + name).add(orders(range(4, 6)))
            run_id = db.scalar("SELECT bulk_ingest_start('src_%s')" % name)
            assert wait_for(lambda: db.scalar("SELECT status FROM bulk_ingest.runs WHERE id = %s", (run_id,))
                            == "succeeded", timeout=20)
            assert db.count("public.t") == 5
        finally:
            db.close()

    # A database that gets the extension later gets a launcher; one that drops it loses its launcher.
    with c.connect(dbname="mc") as conn:
        conn.execute("CREATE EXTENSION pg_bulk_ingest")
    wait_launchers(c, ["ma", "mb", "mc"])
    with c.connect(dbname="mb") as conn:
        conn.execute("DROP EXTENSION pg_bulk_ingest")
    now = wait_launchers(c, ["ma", "mc"])
    assert now["ma"] == first["ma"]  # the others are not disturbed
    with c.connect(dbname="mb") as conn:
        conn.execute("CREATE EXTENSION pg_bulk_ingest")
    wait_launchers(c, ["ma", "mb", "mc"])

    # DROP DATABASE is not blocked by its launcher, and the others carry on.
    with c.connect() as admin:
        admin.execute("SET lock_timeout = '5s'")
        admin.execute('DROP DATABASE "ma"')
    wait_launchers(c, ["mb", "mc"])

    # A restart finds the databases with the extension again, and only them.
    c.restart()
    wait_launchers(c, ["mb", "mc"])
    assert len(launchers(c)[1]) == 1
    log = c.log_since(offset)
    assert "terminated by signal" not in log and "PANIC" not in log, log[-3000:]
    print("\n" + "\n".join(line for line in log.splitlines() if "pg_bulk_ingest" in line))


def test_bulk_ingest_databases_names_the_databases_served(multi, server):
    c = multi
    with c.connect() as admin:
        for name in ("la", "lb"):
            admin.execute('DROP DATABASE IF EXISTS "%s"' % name)
            admin.execute('CREATE DATABASE "%s"' % name)
    for name in ("la", "lb"):
        with c.connect(dbname=name) as conn:
            conn.execute("CREATE EXTENSION pg_bulk_ingest")
    served = wait_launchers(c, ["mb", "mc", "la", "lb"])
    with c.connect() as admin:
        admin.execute("ALTER SYSTEM SET bulk_ingest.databases = 'la, mb'")
        admin.execute("SELECT pg_reload_conf()")
    try:
        wait_launchers(c, ["la", "mb"])
        db = TestDB(c, "lb")
        try:
            server.add_dataset("lbsrc", orders(range(1, 3)))
            db.register("lbsrc", server.url("/lbsrc"), "public.t", ORDER_COLUMNS)
            with pytest.raises(psycopg.Error) as e:
                db.execute("SELECT bulk_ingest_start('lbsrc')")
            assert "do not serve database \"lb\" (bulk_ingest.databases = 'la, mb')" in str(e.value), str(e.value)
            assert db.run("lbsrc")["rows"] == 2  # bulk_ingest_run needs no launcher
        finally:
            db.close()
        with c.connect() as admin:
            with pytest.raises(psycopg.Error, match="invalid value for parameter"):
                admin.execute("ALTER SYSTEM SET bulk_ingest.databases = ''")
    finally:
        with c.connect() as admin:
            admin.execute("ALTER SYSTEM RESET bulk_ingest.databases")
            admin.execute("SELECT pg_reload_conf()")
    again = wait_launchers(c, ["mb", "mc", "la", "lb"])
    assert again["la"] == served["la"] and again["mb"] == served["mb"]
