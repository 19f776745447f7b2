"""Every run is a background worker and needs a free slot of max_worker_processes (docs/operations.md, Resources):
bulk_ingest_run fails at once with a message that says so when there is none; a queued run waits, and the launcher
retries (logging why) until a slot is free.

A cluster of its own with room for the launcher and one run: max_worker_processes = 2, and no logical replication
launcher to take a slot."""

import time

import psycopg
import pytest

from conftest import start_preloaded_cluster, wait_for_launcher
from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders, wait_for

DBNAME = "slots"


@pytest.fixture(scope="module")
def slots_cluster(make_cluster):
    c = start_preloaded_cluster(make_cluster, "slots", DBNAME,
                                settings={"max_worker_processes": "2", "max_logical_replication_workers": "0"})
    wait_for_launcher(c)
    yield c
    c.stop()  # deleted at the end of the session


@pytest.fixture
def sdb(slots_cluster, make_bgdb):
    return make_bgdb(slots_cluster, DBNAME)


def register(db, server, name, gate=None):
    ds = server.add_dataset(name, orders(range(1, 4)), page_size=100)
    if gate is not None:
        ds.faults.append(Fault(gate=gate, gate_after=1, times=1))
    db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, ORDER_COLUMNS,
                high_watermark_column="updated_at")


def test_bulk_ingest_run_without_a_free_worker_slot_fails_at_once_and_says_so(sdb, server):
    gate = Gate()
    register(sdb, server, "busy", gate)
    register(sdb, server, "other")
    held = sdb.run_in_thread("busy")  # the last free slot
    gate.wait_reached()

    t0 = time.monotonic()
    with pytest.raises(psycopg.errors.ConfigurationLimitExceeded) as e:
        sdb.run("other")
    took = time.monotonic() - t0
    msg = str(e.value)
    assert 'could not start a background worker for source "other"' in msg, msg
    assert "max_worker_processes = 2" in msg and "Raise max_worker_processes" in msg, msg
    assert took < 1.0, took
    assert sdb.runs("other") == [] and server.requests_for("other") == []

    gate.release()
    assert held.wait()["status"] == "succeeded"
    assert sdb.run("other")["status"] == "succeeded"  # a slot is free again


def test_a_queued_run_waits_for_a_free_slot_and_the_launcher_says_why(sdb, server):
    gate = Gate()
    register(sdb, server, "qbusy", gate)
    register(sdb, server, "qnext")
    offset = sdb.cluster.log_offset()
    busy = sdb.start("qbusy")
    gate.wait_reached()
    waiting = sdb.start("qnext")
    line = "launcher: no free background worker slot for run %d; retrying (raise max_worker_processes)" % waiting
    assert wait_for(lambda: line in sdb.cluster.log_since(offset), timeout=10), sdb.cluster.log_since(offset)
    assert sdb.run_row(waiting)["status"] == "queued"

    gate.release()
    assert sdb.wait_run(busy)["status"] == "succeeded"
    run = sdb.wait_run(waiting)
    assert run["status"] == "succeeded" and run["rows"] == 3
