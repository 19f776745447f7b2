"""The upgrade as a DBA does it, with the released 0.1 library itself: a cluster runs 0.1 (launcher, scheduled and
manual runs, a secret, a failure in the history), then the package is upgraded (this build's binaries), the server
restarted, and ALTER EXTENSION pg_bulk_ingest UPDATE run while the new launcher waits for it.

It needs a build of the released version: scripts/test-upgrade-from-release.sh makes one and runs this file with
PG_BULK_INGEST_RELEASE_BINDIR pointing at it (skipped otherwise: it is not part of scripts/test.sh, the build takes
minutes).
"""

import os
import time

import pytest

from conftest import launcher_pids, wait_for_launcher
from pgcluster import Cluster
from server import Fault
from testdata import ORDER_COLUMNS, orders, tsval, wait_for

from psycopg.types.json import Jsonb

RELEASE_BINDIR = os.environ.get("PG_BULK_INGEST_RELEASE_BINDIR")
pytestmark = pytest.mark.skipif(not RELEASE_BINDIR, reason="needs a build of the released version "
                                "(scripts/test-upgrade-from-release.sh)")

TOKEN = "released-t0ken"


def test_upgrade_from_the_released_library_with_its_launcher(server):
    c = Cluster("release-upgrade-%d" % os.getpid())
    new_bindir = c.bindir
    c.bindir = RELEASE_BINDIR
    c.init()
    c.start()
    try:
        ds = server.add_dataset("orders", orders(range(1, 6)), page_size=2,
                                require_headers={"Authorization": "Bearer " + TOKEN})
        with c.connect() as admin:
            admin.execute("CREATE DATABASE shop")
            admin.execute("CREATE ROLE shop_owner LOGIN")
        with c.connect(dbname="shop") as conn:
            conn.execute("CREATE EXTENSION pg_bulk_ingest")
            assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_bulk_ingest'"
                                ).fetchone()[0] == "0.1"
            conn.execute("GRANT CREATE ON SCHEMA public TO shop_owner")
        # Preloaded once the database exists (a launcher started before it would fail to connect).
        c.write_settings(**{"shared_preload_libraries": "pg_bulk_ingest", "bulk_ingest.database_name": "shop"})
        c.restart()
        wait_for_launcher(c)

        # Version 0.1 at work: registered by an ordinary role (a target without a schema, as 0.1 allowed), a
        # secret, scheduled runs by the 0.1 launcher, a manual run, a failure.
        with c.connect(dbname="shop", user="shop_owner") as conn:
            conn.execute("SELECT bulk_ingest_register('orders', %s, 'orders', %s, high_watermark_column =>"
                         " 'updated_at', options => %s)",
                         (server.url("/orders?since={high_watermark}"), Jsonb(ORDER_COLUMNS),
                          Jsonb({"headers": {"Authorization": "Bearer {secret:token}"}})))
            conn.execute("SELECT bulk_ingest_set_secret('orders', 'token', %s)", (TOKEN,))
            conn.execute("SELECT bulk_ingest_schedule('orders', '1 hour')")

            def statuses():
                return [r[0] for r in conn.execute("SELECT status FROM bulk_ingest.runs ORDER BY id")]

            assert wait_for(lambda: "succeeded" in statuses(), timeout=20), statuses()
            ds.faults.append(Fault(status=503, times=10))
            conn.execute("SELECT bulk_ingest_register('orders', %s, 'orders', %s, high_watermark_column =>"
                         " 'updated_at', options => %s)",
                         (server.url("/orders?since={high_watermark}"), Jsonb(ORDER_COLUMNS),
                          Jsonb({"headers": {"Authorization": "Bearer {secret:token}"}, "max_retries": 0})))
            with pytest.raises(Exception, match="503"):
                conn.execute("SELECT bulk_ingest_run('orders')")
            ds.faults.clear()
            ds.add(orders(range(6, 8)))
            assert conn.execute("SELECT rows FROM bulk_ingest_run('orders')").fetchone()[0] == 2
            history = conn.execute("SELECT id, status, rows, high_watermark_after, \"trigger\" FROM bulk_ingest.runs"
                                   " ORDER BY id").fetchall()
            watermark = conn.execute("SELECT value FROM bulk_ingest.watermarks").fetchone()[0]
        assert [h[1:3] for h in history] == [("succeeded", 5), ("failed", 0), ("succeeded", 2)], history
        assert watermark == "2024-01-01 17:00:00+00"

        # The package upgrade: this build's library, loaded by a restart. The new launcher waits for the update.
        c.stop()
        c.bindir = new_bindir
        offset = c.log_offset()
        c.start()
        launcher = wait_for_launcher(c)
        assert wait_for(lambda: "is version 0.1, the library is version 0.2" in c.log_since(offset), timeout=10)
        ds.add(orders(range(8, 10)))
        server.clear_requests()

        with c.connect(dbname="shop") as conn:
            conn.execute("ALTER EXTENSION pg_bulk_ingest UPDATE")
        with c.connect(dbname="shop", user="shop_owner") as conn:
            # Everything is there, and visible to its owner (a member of bulk_ingest_user now).
            assert conn.execute("SELECT id, status, rows, high_watermark_after, \"trigger\" FROM bulk_ingest.runs"
                                " ORDER BY id").fetchall() == history
            assert conn.execute("SELECT value FROM bulk_ingest.watermarks").fetchone()[0] == watermark
            assert conn.execute("SELECT target FROM bulk_ingest.sources").fetchone()[0] == "public.orders"
            assert conn.execute("SELECT bulk_ingest_get_secret('orders', 'token')").fetchone()[0] == TOKEN
            # Due now: the launcher that waited runs it, from the 0.1 watermark.
            conn.execute("SELECT bulk_ingest_schedule('orders', '1 hour')")

            def scheduled():
                return conn.execute("SELECT status, rows, high_watermark_before FROM bulk_ingest.runs"
                                    " WHERE id > %s AND status NOT IN ('queued', 'running')",
                                    (history[-1][0],)).fetchall()

            done = wait_for(scheduled, timeout=20)
            assert done == [("succeeded", 2, watermark)], (done, c.log_since(offset)[-3000:])
            assert [r.query["since"] for r in server.requests_for("orders")] == [watermark]
            assert [r[0] for r in conn.execute("SELECT id FROM public.orders ORDER BY id")] == list(range(1, 10))
            wm = conn.execute("SELECT value::timestamptz FROM bulk_ingest.watermarks").fetchone()[0]
            assert wm == tsval(9)
            assert conn.execute("SELECT rows FROM bulk_ingest_run('orders')").fetchone()[0] == 0
        assert launcher_pids(c) == [launcher]
    finally:
        c.destroy()
