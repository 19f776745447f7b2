"""bulk_ingest_schedule(source, '<cron schedule>'): a cron.job named bulk_ingest:<source>, run by pg_cron as the
source's owner; moved by another cron schedule, replaced by an interval (the launcher), removed by NULL, by
unregistering and followed by bulk_ingest_set_owner.

pg_cron ticks by the minute (Debian's 1.4): the test waits for one tick, up to ~75 s. It has a cluster of its own
with both libraries preloaded; the owner of the source has no privilege on pg_cron's schema.
"""

import datetime
import os
import time

import psycopg
import pytest

from conftest import TestDB, start_preloaded_cluster
from pgcluster import bindir
from testdata import ORDER_COLUMNS, orders, wait_for

DBNAME = "cronsched"


@pytest.fixture(scope="module")
def cron_cluster(make_cluster):
    if not os.path.exists(os.path.join(os.path.dirname(bindir()), "lib", "pg_cron.so")):
        pytest.skip("pg_cron is not installed (Debian: postgresql-15-cron)")
    c = start_preloaded_cluster(make_cluster, "cronsched", DBNAME, libraries="pg_bulk_ingest,pg_cron",
                                settings={"cron.database_name": DBNAME})
    c.write_settings(**{"cron.host": c.sockdir})  # pg_cron connects over libpq; the cluster listens on its socket
    c.restart()
    with c.connect(dbname=DBNAME) as conn:
        conn.execute("CREATE EXTENSION pg_cron")
        conn.execute("CREATE ROLE cron_owner LOGIN IN ROLE bulk_ingest_user")
        conn.execute("CREATE ROLE cron_heir LOGIN IN ROLE bulk_ingest_user")
        conn.execute("GRANT CREATE ON SCHEMA public TO cron_owner, cron_heir")
    yield c
    c.stop()


def jobs(db):
    return db.query("SELECT jobid, jobname, schedule, command, database, username, active FROM cron.job"
                    " ORDER BY jobid")


def test_a_cron_schedule_makes_a_pg_cron_job_that_runs_the_source(cron_cluster, server):
    db = TestDB(cron_cluster, DBNAME)
    try:
        server.add_dataset("cs", orders(range(1, 5)), page_size=2)
        mine = db.connect(user="cron_owner")
        db.register("cs", server.url("/cs?since={high_watermark}"), "public.cs", ORDER_COLUMNS,
                    high_watermark_column="updated_at", conn=mine)
        t0 = time.monotonic()
        db.execute("SELECT bulk_ingest_schedule('cs', '* * * * *')", conn=mine)
        [job] = jobs(db)
        assert {k: job[k] for k in ("jobname", "schedule", "command", "database", "username", "active")} == {
            "jobname": "bulk_ingest:cs", "schedule": "* * * * *", "command": "SELECT public.bulk_ingest_run('cs')",
            "database": DBNAME, "username": "cron_owner", "active": True}
        status = db.one("SELECT * FROM bulk_ingest.source_status WHERE source = 'cs'", conn=mine)
        assert (status["schedule"], status["cron_schedule"]) == (None, "* * * * *")
        assert status["next_run_at"] == db.scalar("SELECT date_trunc('minute', now()) + interval '1 minute'")

        ran = wait_for(lambda: [r for r in db.runs("cs") if r["status"] == "succeeded"], timeout=80, interval=0.5)
        print("\npg_cron ran the source %.1f s after it was scheduled" % (time.monotonic() - t0))
        assert ran and ran[0]["rows"] == 4, (db.runs("cs"), cron_cluster.log_tail(40))
        assert ran[0]["trigger"] == "run"  # bulk_ingest_run, called by the job (the launcher's runs say 'schedule')
        assert db.count("public.cs") == 4
        details = wait_for(lambda: db.query("SELECT status FROM cron.job_run_details WHERE jobid = %s",
                                            (job["jobid"],)), timeout=10)
        assert {"status": "succeeded"} in details, details

        # Another cron schedule moves the same job.
        db.execute("SELECT bulk_ingest_schedule('cs', '*/5 * * * *')", conn=mine)
        assert [(j["jobid"], j["schedule"]) for j in jobs(db)] == [(job["jobid"], "*/5 * * * *")]
        # A bad one changes nothing.
        with pytest.raises(psycopg.Error, match='source "cs": invalid cron schedule: minute field "61"'):
            db.execute("SELECT bulk_ingest_schedule('cs', '61 * * * *')", conn=mine)
        assert [j["schedule"] for j in jobs(db)] == ["*/5 * * * *"]
        # Another role may not schedule it.
        bob = db.connect(user="cron_heir")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match='permission denied for source "cs"'):
            db.execute("SELECT bulk_ingest_schedule('cs', '0 * * * *')", conn=bob)

        # An interval replaces it (the launcher runs the source); a cron schedule replaces the interval.
        db.execute("SELECT bulk_ingest_schedule('cs', '1 hour')", conn=mine)
        assert jobs(db) == []
        assert db.scalar("SELECT schedule FROM bulk_ingest.sources WHERE source = 'cs'") == \
            datetime.timedelta(hours=1)
        db.execute("SELECT bulk_ingest_schedule('cs', '@daily')", conn=mine)
        assert [j["schedule"] for j in jobs(db)] == ["@daily"]
        assert db.scalar("SELECT schedule FROM bulk_ingest.sources WHERE source = 'cs'") is None
        status = db.one("SELECT * FROM bulk_ingest.source_status WHERE source = 'cs'", conn=mine)
        assert status["next_run_at"] == db.scalar("SELECT date_trunc('day', now()) + interval '1 day'")

        # The job follows the source to its new owner.
        db.execute("SELECT bulk_ingest_set_owner('cs', 'cron_heir')")
        assert [j["username"] for j in jobs(db)] == ["cron_heir"]

        # NULL stops every schedule; so does unregistering.
        db.execute("SELECT bulk_ingest_schedule('cs', NULL)", conn=bob)
        assert jobs(db) == []
        db.execute("SELECT bulk_ingest_schedule('cs', '0 3 * * *')", conn=bob)
        assert len(jobs(db)) == 1
        db.execute("SELECT bulk_ingest_unregister('cs')", conn=bob)
        assert jobs(db) == []
    finally:
        db.close()


def test_a_cron_schedule_without_pg_cron_says_what_to_do(db, server):
    db.register("nc", server.url("/nc"), "public.nc", ORDER_COLUMNS)
    with pytest.raises(psycopg.Error) as e:
        db.execute("SELECT bulk_ingest_schedule('nc', '*/5 * * * *')")
    assert "a cron schedule needs pg_cron, which is not created in this database" in str(e.value)
    assert e.value.diag.message_hint.startswith("Install pg_cron"), e.value.diag.message_hint
    # Intervals need no pg_cron, written as text or as an interval.
    db.execute("SELECT bulk_ingest_schedule('nc', '15 minutes')")
    assert db.scalar("SELECT schedule FROM bulk_ingest.sources") == datetime.timedelta(minutes=15)
    db.execute("SELECT bulk_ingest_schedule('nc', interval '2 hours')")
    assert db.scalar("SELECT schedule FROM bulk_ingest.sources") == datetime.timedelta(hours=2)
    with pytest.raises(psycopg.Error, match='"every fortnight" is neither a cron schedule'):
        db.execute("SELECT bulk_ingest_schedule('nc', 'every fortnight')")
    db.execute("SELECT bulk_ingest_schedule('nc', NULL)")
    assert db.scalar("SELECT schedule FROM bulk_ingest.sources") is None
