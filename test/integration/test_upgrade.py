"""ALTER EXTENSION pg_bulk_ingest UPDATE from the first released version (0.1), with what 0.1 left behind.

A database is created at version 0.1 (CREATE EXTENSION ... VERSION '0.1') and its catalog holds what 0.1 wrote: a
source owned by an ordinary role (a target named without a schema, as 0.1 allowed; a bearer token from a secret; a
schedule), its watermark, its run history (a success and a failure) and its secret; the target holds the rows the
succeeded run loaded. The library is this build's: as after a package upgrade and a restart, before the DBA runs
the update. Then:

- the library refuses to act on a 0.1 catalog, with an error that says what to run, and changes nothing;
- after the update everything is there and works: the owner sees its rows, reads its secret, runs the source, and
  the run continues from the 0.1 watermark (nothing re-ingested, the table loaded in place);
- a launcher running with the new library waits (without failing) while its database is at 0.1, and the same
  launcher process runs the due source as soon as the update commits.
"""

import json
import re
import time

import psycopg
import pytest

from conftest import TestDB, launcher_pids, wait_for_launcher
from testdata import ORDER_COLUMNS, orders, tsval, wait_for

TOKEN = "upgr4de-t0ken"
# What 0.1 stored for a timestamptz watermark: PostgreSQL's output of the column's maximum (TimeZone UTC).
WATERMARK_01 = "2024-01-01 15:00:00+00"  # tsval(5)


def create_01_database(cluster, name, server, dataset, owner, scheduled=False):
    """A database at version 0.1 holding what 0.1 wrote for `dataset` (orders 1-5 loaded by run 1, then a failed
    run 2), owned by `owner`. Written as superuser into the 0.1 catalog, exactly as 0.1's functions wrote it."""
    with cluster.connect() as admin:
        admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        admin.execute('CREATE DATABASE "%s"' % name)
    with cluster.connect(dbname=name) as conn:
        conn.execute("CREATE EXTENSION pg_bulk_ingest VERSION '0.1'")
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_bulk_ingest'").fetchone()[0] \
            == "0.1"
        conn.execute('GRANT CREATE ON SCHEMA public TO "%s"' % owner)
        conn.execute('SET ROLE "%s"' % owner)
        conn.execute("CREATE TABLE public.%s (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2),"
                     " updated_at timestamptz, details jsonb)" % dataset)
        for r in orders(range(1, 6)):
            conn.execute("INSERT INTO public.%s VALUES (%%s, %%s, %%s, %%s, %%s)" % dataset,
                         (r["id"], r["customer"], r["amount"], r["updated_at"], json.dumps(r["meta"])))
        conn.execute("RESET ROLE")
        options = {"headers": {"Authorization": "Bearer {secret:token}"}, "batch_rows": 1000}
        if scheduled:
            options["schedule"] = "1 hour"
        conn.execute(
            "INSERT INTO bulk_ingest.sources (source, url, target, columns, format, high_watermark_column, upsert,"
            " \"delete\", options, owner, schedule, next_run_at)"
            " VALUES (%s, %s, %s, %s, 'ndjson', 'updated_at', 'if_primary_key', 'off', %s, %s::regrole, %s, %s)",
            (dataset, server.url("/%s?since={high_watermark}" % dataset), dataset, json.dumps(ORDER_COLUMNS),
             json.dumps(options), '"%s"' % owner, "1 hour" if scheduled else None,
             "2000-01-01 00:00:00+00" if scheduled else None))
        conn.execute("INSERT INTO bulk_ingest.watermarks (source, value) VALUES (%s, %s)", (dataset, WATERMARK_01))
        conn.execute("INSERT INTO bulk_ingest.secrets (source, name, value) VALUES (%s, 'token', %s)",
                     (dataset, TOKEN))
        conn.execute(
            "INSERT INTO bulk_ingest.runs (source, status, started_at, finished_at, batches, rows, bytes,"
            " high_watermark_before, high_watermark_after, \"trigger\", rebuild)"
            " VALUES (%s, 'succeeded', now() - interval '2 hours', now() - interval '2 hours', 2, 5, 900, NULL, %s,"
            "         'run', 'the table is new'),"
            "        (%s, 'failed', now() - interval '1 hour', now() - interval '1 hour', 0, 0, 0, %s, %s, 'run',"
            "         NULL)",
            (dataset, WATERMARK_01, dataset, WATERMARK_01, WATERMARK_01))
        conn.execute("UPDATE bulk_ingest.runs SET error = 'batch 1 (http://x/): HTTP 503' WHERE status = 'failed'")


def catalog_snapshot(conn, source):
    """What the catalog holds for source (as a superuser sees it), without the columns 0.2 adds or rewrites."""
    src = conn.execute("SELECT url, columns, format, high_watermark_column, upsert, \"delete\", options,"
                       " owner::text, schedule, next_run_at, created_at FROM bulk_ingest.sources"
                       " WHERE source = %s", (source,)).fetchone()
    wm = conn.execute("SELECT value, updated_at FROM bulk_ingest.watermarks WHERE source = %s", (source,)).fetchall()
    runs = conn.execute("SELECT id, status, started_at, finished_at, batches, rows, bytes, high_watermark_before,"
                        " high_watermark_after, error, \"trigger\", rebuild FROM bulk_ingest.runs"
                        " WHERE source = %s ORDER BY id", (source,)).fetchall()
    secrets = conn.execute("SELECT name, value, updated_at FROM bulk_ingest.secrets WHERE source = %s",
                           (source,)).fetchall()
    def plain(row):
        return tuple(row.values()) if isinstance(row, dict) else tuple(row)

    return {"source": plain(src), "watermark": [plain(r) for r in wm], "runs": [plain(r) for r in runs],
            "secrets": [plain(r) for r in secrets]}


@pytest.fixture
def owner_role(cluster):
    """An ordinary login role that owned a source under 0.1 (no membership in bulk_ingest_user: 0.1 had none)."""
    name = "upgrade_owner"
    with cluster.connect() as admin:
        admin.execute('DROP ROLE IF EXISTS "%s"' % name)
        admin.execute('CREATE ROLE "%s" LOGIN' % name)
    yield name
    with cluster.connect() as admin:
        admin.execute("DROP DATABASE IF EXISTS upgrade_01 WITH (FORCE)")
        admin.execute('DROP ROLE IF EXISTS "%s"' % name)


def test_update_from_0_1_keeps_sources_watermarks_history_and_secrets_and_the_next_run_continues(
        cluster, server, owner_role):
    server.add_dataset("upg", orders(range(1, 9)), page_size=100,
                       require_headers={"Authorization": "Bearer " + TOKEN})
    create_01_database(cluster, "upgrade_01", server, "upg", owner_role, scheduled=True)
    with cluster.connect(dbname="upgrade_01") as conn:
        before = catalog_snapshot(conn, "upg")

    db = TestDB(cluster, "upgrade_01")
    try:
        # The 0.2 library does not touch a 0.1 catalog: every function says what to run, and changes nothing.
        for call in ("SELECT bulk_ingest_run('upg')",
                     "SELECT bulk_ingest_get_secret('upg', 'token')",
                     "SELECT bulk_ingest_schedule('upg', NULL)",
                     "SELECT bulk_ingest_register('new', 'http://127.0.0.1:9/', 'public.t',"
                     " '[{\"name\": \"a\", \"type\": \"text\"}]')"):
            with pytest.raises(psycopg.Error) as e:
                db.execute(call)
            assert "catalog in this database is version 0.1" in str(e.value), str(e.value)
            assert "library loaded is version 0.2" in str(e.value)
            assert e.value.diag.message_hint == "Run ALTER EXTENSION pg_bulk_ingest UPDATE in this database."
        assert server.requests_for("upg") == []
        assert catalog_snapshot(db.conn, "upg") == before

        db.execute("ALTER EXTENSION pg_bulk_ingest UPDATE")
        assert db.scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_bulk_ingest'") == "0.2"

        # Everything 0.1 wrote is still there, unchanged; the target got its schema, the runs their owner.
        assert catalog_snapshot(db.conn, "upg") == before
        assert db.scalar("SELECT target FROM bulk_ingest.sources WHERE source = 'upg'") == "public.upg"
        assert [r["owner"] for r in db.query("SELECT owner::text FROM bulk_ingest.runs ORDER BY id")] == \
            [owner_role, owner_role]
        assert db.scalar("SELECT pg_has_role(%s, 'bulk_ingest_user', 'MEMBER')", (owner_role,))

        # The owner keeps the use of its source: it sees its rows, reads its secret, and runs it.
        mine = db.connect(user=owner_role)
        assert db.scalar("SELECT count(*) FROM bulk_ingest.sources", conn=mine) == 1
        assert db.scalar("SELECT count(*) FROM bulk_ingest.runs", conn=mine) == 2
        assert db.scalar("SELECT value FROM bulk_ingest.watermarks", conn=mine) == WATERMARK_01
        assert db.scalar("SELECT bulk_ingest_get_secret('upg', 'token')", conn=mine) == TOKEN

        run = db.run("upg", conn=mine)
        assert run["status"] == "succeeded", run
        assert run["rows"] == 3 and run["high_watermark_before"] == WATERMARK_01, run
        assert run["rebuild"] is None, run  # the table 0.1 made matches: loaded in place
        assert run["id"] > max(r[0] for r in before["runs"])
        requests = server.requests_for("upg")
        assert [r.query["since"] for r in requests] == [WATERMARK_01]
        assert requests[0].headers.get("Authorization") == "Bearer " + TOKEN
        assert [r["id"] for r in db.query("SELECT id FROM public.upg ORDER BY id")] == list(range(1, 9))
        assert db.watermark("upg", as_type="timestamptz") == tsval(8)
        # The schedule came through too (the launcher, when preloaded, would run it every hour).
        assert db.scalar("SELECT schedule::text FROM bulk_ingest.sources WHERE source = 'upg'") == "01:00:00"
    finally:
        db.close()


def test_a_launcher_running_the_new_library_waits_for_the_update_and_then_runs_the_due_source(
        make_cluster, server, owner_role):
    dbname = "upgrade_01"
    # The library is preloaded once the database exists (a launcher started before would fail to connect).
    c = make_cluster("upgrade")
    with c.connect() as admin:
        admin.execute('CREATE ROLE "%s" LOGIN' % owner_role)
    server.add_dataset("upl", orders(range(1, 8)), page_size=100,
                       require_headers={"Authorization": "Bearer " + TOKEN})
    create_01_database(c, dbname, server, "upl", owner_role, scheduled=True)
    c.write_settings(**{"shared_preload_libraries": "pg_bulk_ingest", "bulk_ingest.database_name": dbname})
    offset = c.log_offset()
    c.restart()
    try:
        launcher = wait_for_launcher(c)
        waiting = wait_for(lambda: "is version 0.1, the library is version 0.2" in c.log_since(offset), timeout=10)
        assert waiting, c.log_since(offset)[-3000:]
        time.sleep(1.5)  # the source is overdue: a launcher that did not wait would queue it now
        with c.connect(dbname=dbname) as conn:
            assert conn.execute("SELECT count(*) FROM bulk_ingest.runs").fetchone()[0] == 2
        assert server.requests_for("upl") == []
        assert launcher_pids(c) == [launcher]

        with c.connect(dbname=dbname) as conn:
            conn.execute("ALTER EXTENSION pg_bulk_ingest UPDATE")

        def scheduled_run():
            with c.connect(dbname=dbname) as conn:
                return conn.execute("SELECT status, rows, high_watermark_before, \"trigger\" FROM bulk_ingest.runs"
                                    " WHERE \"trigger\" = 'schedule' AND status NOT IN ('queued', 'running')"
                                    ).fetchall()

        t0 = time.monotonic()
        done = wait_for(scheduled_run, timeout=20)
        print("\nthe launcher ran the due source %.1f s after the update committed" % (time.monotonic() - t0))
        assert done == [("succeeded", 2, WATERMARK_01, "schedule")], (done, c.log_since(offset)[-3000:])
        assert launcher_pids(c) == [launcher]  # the same process: it waited, it did not fail and restart
        with c.connect(dbname=dbname) as conn:
            assert [r[0] for r in conn.execute("SELECT id FROM public.upl ORDER BY id")] == list(range(1, 8))
        log = c.log_since(offset)
        started = log.index("pg_bulk_ingest launcher started")
        assert not re.search(r'ERROR|background worker "pg_bulk_ingest launcher"', log[started:]), log[-3000:]
    finally:
        c.stop()
