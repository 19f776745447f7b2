"""pg_cron as the scheduler: a cron job calling bulk_ingest_run ingests.

pg_cron's granularity is one minute (Debian's postgresql-15-cron 1.4 has no seconds schedules), so this waits for
the next minute boundary: up to ~75 s. It has a cluster of its own with both libraries preloaded.
"""

import os
import time

import pytest

from conftest import start_preloaded_cluster
from pgcluster import bindir
from testdata import ORDER_COLUMNS, orders, tsval, wait_for

from psycopg.types.json import Jsonb

DBNAME = "cron"


def test_a_pg_cron_job_calling_bulk_ingest_run_ingests(make_cluster, server):
    if not os.path.exists(os.path.join(os.path.dirname(bindir()), "lib", "pg_cron.so")):
        pytest.skip("pg_cron is not installed (Debian: postgresql-15-cron)")
    c = start_preloaded_cluster(make_cluster, "cron", DBNAME, libraries="pg_bulk_ingest,pg_cron",
                                settings={"cron.database_name": DBNAME})
    # pg_cron runs its jobs over libpq, to localhost by default; the test cluster listens on its socket only.
    c.write_settings(**{"cron.host": c.sockdir})
    c.restart()
    offset = c.log_offset()

    server.add_dataset("cron_orders", orders(range(1, 8)), page_size=3)
    try:
        with c.connect(dbname=DBNAME) as conn:
            conn.execute("CREATE EXTENSION pg_cron")
            conn.execute("SELECT bulk_ingest_register('cron_orders', %s, 'public.cron_orders', %s, "
                         "high_watermark_column => 'updated_at')",
                         (server.url("/cron_orders?since={high_watermark}"), Jsonb(ORDER_COLUMNS)))
            t0 = time.monotonic()
            conn.execute("SELECT cron.schedule('j', '* * * * *', $$SELECT bulk_ingest_run('cron_orders')$$)")

            def runs():
                return conn.execute("SELECT status, \"trigger\", rows, batches FROM bulk_ingest.runs "
                                    "WHERE source = 'cron_orders' ORDER BY id").fetchall()

            done = wait_for(lambda: [r for r in runs() if r[0] == "succeeded"], timeout=80, interval=0.5)
            waited = time.monotonic() - t0
            details = conn.execute("SELECT status, return_message FROM cron.job_run_details ORDER BY runid").fetchall()
            print("\npg_cron job ran after %.1f s; runs %r; job_run_details %r" % (waited, runs(), details))
            assert done, "the cron job never ingested; job_run_details %r; log:\n%s" % (
                details, c.log_since(offset)[-5000:])
            assert done[0][1:] == ("run", 7, 3)
            assert conn.execute("SELECT count(*) FROM public.cron_orders").fetchone()[0] == 7
            wm = conn.execute("SELECT value::timestamptz FROM bulk_ingest.watermarks "
                              "WHERE source = 'cron_orders'").fetchone()[0]
            assert wm == tsval(7)
            # pg_cron marks its job succeeded once the job's transaction has ended, a moment after the run's commit.
            assert wait_for(lambda: ("succeeded",) in conn.execute("SELECT status FROM cron.job_run_details").fetchall(),
                            timeout=10), conn.execute("SELECT status FROM cron.job_run_details").fetchall()
            conn.execute("SELECT cron.unschedule('j')")
    finally:
        c.stop()
