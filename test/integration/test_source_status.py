"""bulk_ingest.source_status: per source, its state, last run, last success, consecutive failures, watermark, rows
of the last 24 hours, run in flight and schedule; each role sees its own sources. And the alert queries of
docs/operations.md, run as written there."""

import datetime
import os
import re

import psycopg
import pytest

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders, tsval, wait_for

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "operations.md")


def register(db, server, name, conn=None, **kw):
    return db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, ORDER_COLUMNS,
                       high_watermark_column="updated_at", conn=conn, **kw)


def status(db, source, conn=None):
    return db.one("SELECT * FROM bulk_ingest.source_status WHERE source = %s", (source,), conn)


def test_state_last_run_last_success_and_consecutive_failures(db, server):
    ds = server.add_dataset("st", orders(range(1, 6)), page_size=2)
    register(db, server, "st")
    s = status(db, "st")
    assert (s["state"], s["last_run_id"], s["last_success_at"], s["consecutive_failures"], s["rows_last_24h"],
            s["high_watermark"], s["active_run_id"]) == ("never run", None, None, 0, 0, None, None)
    assert s["target"] == "public.st" and s["owner"] == "postgres"

    ok = db.run("st")
    s = status(db, "st")
    assert (s["state"], s["last_run_id"], s["last_status"], s["last_rows"]) == ("ok", ok["id"], "succeeded", 5)
    assert s["last_success_at"] == ok["finished_at"]
    assert s["since_last_success"] < datetime.timedelta(minutes=1)
    assert s["high_watermark"] == db.watermark("st") and s["high_watermark_updated_at"] is not None
    assert s["rows_last_24h"] == 5

    ds.faults.append(Fault(status=404))
    for n in (1, 2):
        db.run_fails("st")
        s = status(db, "st")
        assert (s["state"], s["last_status"], s["consecutive_failures"]) == ("failing", "failed", n)
        assert "404" in s["last_error"]
        assert s["last_success_at"] == ok["finished_at"]
    # A skipped schedule tick is no run, a cancelled run is no failure: neither changes what the view says.
    db.execute("INSERT INTO bulk_ingest.runs (source, status, finished_at, error, \"trigger\", owner)"
               " VALUES ('st', 'skipped', now(), 'skipped: run 1 of the source was still running', 'schedule',"
               " 'postgres')")
    s = status(db, "st")
    assert (s["last_status"], s["consecutive_failures"]) == ("failed", 2)
    db.execute("INSERT INTO bulk_ingest.runs (source, status, finished_at, error, owner)"
               " VALUES ('st', 'cancelled', now(), 'cancelled', 'postgres')")
    s = status(db, "st")
    assert (s["state"], s["last_status"], s["consecutive_failures"]) == ("failing", "cancelled", 2)

    ds.faults.clear()
    ds.add(orders(range(6, 8)))
    again = db.run("st")
    s = status(db, "st")
    assert (s["state"], s["consecutive_failures"], s["last_success_at"]) == ("ok", 0, again["finished_at"])
    assert s["rows_last_24h"] == 7
    # Runs that started more than 24 hours ago do not count in rows_last_24h.
    db.execute("UPDATE bulk_ingest.runs SET started_at = now() - interval '25 hours' WHERE id = %s", (ok["id"],))
    assert status(db, "st")["rows_last_24h"] == 2
    assert db.watermark("st", as_type="timestamptz") == tsval(7)


def test_a_run_in_flight_and_the_schedule(db, server):
    gate = Gate()
    ds = server.add_dataset("fl", orders(range(1, 5)), page_size=2)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1, times=1))
    register(db, server, "fl")
    run = db.run_in_thread("fl")
    try:
        gate.wait_reached()
        assert wait_for(lambda: db.count("public.fl") == 2, timeout=10)  # page 2 is asked for while batch 1 loads
        s = status(db, "fl")
        assert (s["state"], s["active_status"], s["last_status"]) == ("running", "running", "running")
        assert s["active_run_id"] == s["last_run_id"]
        assert s["last_rows"] == 2  # the first batch has committed
    finally:
        gate.release()
    run.wait()
    s = status(db, "fl")
    assert (s["state"], s["active_run_id"], s["last_rows"]) == ("ok", None, 4)

    db.execute("SELECT bulk_ingest_schedule('fl', '15 minutes')")
    s = status(db, "fl")
    assert s["schedule"] == datetime.timedelta(minutes=15)
    assert s["next_run_at"] == db.scalar("SELECT next_run_at FROM bulk_ingest.sources WHERE source = 'fl'")
    db.execute("SELECT bulk_ingest_schedule('fl', NULL)")
    s = status(db, "fl")
    assert s["schedule"] is None and s["next_run_at"] is None


def test_each_role_sees_the_status_of_its_own_sources(db, server):
    server.add_dataset("vis", orders(range(1, 3)))
    alice, bob = db.create_role("alice"), db.create_role("bob")
    conns = {}
    for role in (alice, bob):
        db.execute('GRANT CREATE ON SCHEMA public TO "%s"' % role)
        conns[role] = db.connect(user=role)
        name = "vis_" + role.rsplit("_", 1)[1]
        db.register(name, server.url("/vis?since={high_watermark}"), "public." + name, ORDER_COLUMNS,
                    high_watermark_column="updated_at", conn=conns[role])
        db.run(name, conn=conns[role])
    register(db, server, "vis_postgres")

    def visible(conn):
        return [(r["source"], r["state"], r["rows_last_24h"])
                for r in db.query("SELECT * FROM bulk_ingest.source_status ORDER BY source", conn=conn)]

    assert visible(conns[alice]) == [("vis_alice", "ok", 2)]
    assert visible(conns[bob]) == [("vis_bob", "ok", 2)]
    assert [r[0] for r in visible(db.conn)] == ["vis_alice", "vis_bob", "vis_postgres"]
    # A member of alice's role sees what alice sees.
    carol = db.create_role("carol")
    db.execute('GRANT "%s" TO "%s"' % (alice, carol))
    assert visible(db.connect(user=carol)) == [("vis_alice", "ok", 2)]
    outsider = db.connect(user=db.create_role("outsider", ingest=False))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for schema bulk_ingest"):
        db.query("SELECT * FROM bulk_ingest.source_status", conn=outsider)


def alert_queries():
    """The alert queries of docs/operations.md: {name: sql}, from the ```sql blocks after '## Alert queries'."""
    with open(DOCS) as f:
        text = f.read()
    section = text.split("## Alert queries", 1)[1].split("\n## ", 1)[0]
    queries = {}
    for block in re.findall(r"```sql\n(.*?)```", section, re.S):
        name = re.match(r"-- (\w+):", block).group(1)
        queries[name] = block
    return queries


def test_the_documented_alert_queries_find_what_they_say(db, server):
    queries = alert_queries()
    assert sorted(queries) == ["failing", "overdue", "silent", "stale", "stuck"]
    server.add_dataset("fine", orders(range(1, 3)))
    for name in ("fine", "failing", "stale", "overdue", "silent", "stuck", "new"):
        register(db, server, name)
    db.run("fine")
    db.execute("SELECT bulk_ingest_schedule(s, '1 hour') FROM unnest(ARRAY['fine', 'stale', 'overdue']) s")
    history = [
        # failing: three failures after a success
        ("failing", "succeeded", "3 hours", 10), ("failing", "failed", "2 hours", 0),
        ("failing", "failed", "1 hour", 0), ("failing", "failed", "1 minute", 0),
        # stale: scheduled hourly, last success 3 hours ago
        ("stale", "succeeded", "3 hours", 5),
        # overdue: succeeded recently, but due 10 minutes ago and not started
        ("overdue", "succeeded", "50 minutes", 5),
        # silent: runs in the last day that loaded nothing
        ("silent", "succeeded", "2 hours", 0), ("silent", "unchanged", "1 hour", 0),
    ]
    for source, status_, ago, rows in history:
        db.execute("INSERT INTO bulk_ingest.runs (source, status, started_at, finished_at, rows, owner)"
                   " VALUES (%s, %s, now() - %s::interval, now() - %s::interval, %s, 'postgres')",
                   (source, status_, ago, ago, rows))
    db.execute("UPDATE bulk_ingest.sources SET next_run_at = now() - interval '10 minutes' WHERE source = 'overdue'")
    db.execute("UPDATE bulk_ingest.sources SET next_run_at = now() + interval '50 minutes'"
               " WHERE source IN ('fine', 'stale')")
    # stuck: running for two hours (a row as a worker that hangs would leave it)
    db.execute("INSERT INTO bulk_ingest.runs (source, status, started_at, owner)"
               " VALUES ('stuck', 'running', now() - interval '2 hours', 'postgres')")

    found = {name: sorted(r["source"] for r in db.query(sql)) for name, sql in queries.items()}
    print("\n", found)
    assert found == {"failing": ["failing"], "stale": ["stale"], "overdue": ["overdue"], "silent": ["silent"],
                     "stuck": ["stuck"]}
