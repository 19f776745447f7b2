"""Secrets stay secret (issue 9): out of pg_dump's output, out of the progress view and pg_stat_activity while a run
uses them, out of the server log and the run history when a run that used them fails, and out of every role's reach
but the owner's and superusers'."""

import os
import subprocess

import psycopg
import pytest

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders

SECRET = "s3cr3t-b7e41f09"


def register_with_secret(db, server, name, conn=None, **options):
    db.register(name, server.url("/%s?key={secret:key}" % name), "public." + name, ORDER_COLUMNS,
                options=dict({"headers": {"Authorization": "Bearer {secret:key}"}}, **options), conn=conn)
    db.execute("SELECT bulk_ingest_set_secret(%s, 'key', %s)", (name, SECRET), conn=conn)


def test_pg_dump_carries_no_secret(db, server):
    server.add_dataset("dumped", orders(range(1, 3)))
    register_with_secret(db, server, "dumped")
    db.run("dumped")
    env = dict(os.environ, **db.cluster.env(db.name))
    dump = subprocess.run([os.path.join(db.cluster.bindir, "pg_dump"), "--no-password"], env=env,
                          capture_output=True, text=True, check=True).stdout
    assert "dumped" in dump  # the source is there (sources are a configuration table of the extension)
    assert SECRET not in dump


def test_the_secret_is_sent_but_shown_nowhere_during_a_run(bgdb, server):
    gate = Gate()
    ds = server.add_dataset("inflight", orders(range(1, 6)), page_size=100)
    ds.faults.append(Fault(gate=gate, gate_after=2, times=1))
    register_with_secret(bgdb, server, "inflight")
    run_id = bgdb.start("inflight")
    try:
        gate.wait_reached()
        request = server.requests_for("inflight")[0]
        assert request.query["key"] == SECRET and request.headers["Authorization"] == "Bearer " + SECRET
        progress = bgdb.progress("inflight")
        assert progress and "***" in progress[0]["url"] and SECRET not in str(progress)
        activity = bgdb.query("SELECT * FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run'")
        assert activity and SECRET not in str(activity)
    finally:
        gate.release()
    assert bgdb.wait_run(run_id)["status"] == "succeeded"


def test_a_failed_run_leaves_the_secret_out_of_the_log_and_the_history(db, server):
    offset = db.cluster.log_offset()
    ds = server.add_dataset("failing", orders(range(1, 3)))
    ds.faults.append(Fault(status=503, body="the key %s is rate limited\n" % SECRET))
    register_with_secret(db, server, "failing", max_retries=1)
    msg, run = db.run_fails("failing")
    assert "503" in msg and "***" in msg
    for text in (msg, run["error"], run["attempts"], db.cluster.log_since(offset)):
        assert text and SECRET not in text


def test_no_role_but_the_owner_reads_a_secret(db, server):
    owner = db.create_role("owner")
    other = db.create_role("other")
    db.execute('GRANT CREATE ON SCHEMA public TO "%s"' % owner)
    server.add_dataset("mine", orders(range(1, 2)))
    as_owner = db.connect(user=owner)
    register_with_secret(db, server, "mine", conn=as_owner)
    assert db.scalar("SELECT bulk_ingest_get_secret('mine', 'key')", conn=as_owner) == SECRET
    for conn in (as_owner, db.connect(user=other)):  # the table itself is superusers' only, even for the owner
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.query("SELECT * FROM bulk_ingest.secrets", conn=conn)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match='permission denied for source "mine"'):
        db.scalar("SELECT bulk_ingest_get_secret('mine', 'key')", conn=db.connect(user=other))
