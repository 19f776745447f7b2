"""Limits of each request (issue 5): a maximum response size, a request timeout and a connect timeout (TLS included),
declared by the source and bounded by the superuser's settings bulk_ingest.connect_timeout_limit,
request_timeout_limit and response_size_limit."""

import time

import psycopg
import pytest

from rebuild_helpers import set_db_setting
from server import Fault
from testdata import ORDER_COLUMNS, orders
from tls import SilentServer


def test_a_response_over_max_response_bytes_fails_the_batch_cleanly(db, server):
    server.add_dataset("big", orders(range(1, 200)), page_size=1000)
    db.register("big", server.url("/big"), "public.big", ORDER_COLUMNS, upsert="off",
                options={"max_response_bytes": 2000, "batch_rows": 1000})
    with pytest.raises(psycopg.Error) as e:
        db.run("big")
    assert "larger than the maximum of 2000 bytes" in str(e.value), str(e.value)
    assert db.count("public.big") == 0  # the batch in flight left nothing
    assert len(server.requests_for("big")) == 1  # not retried: it would only be as large again


def test_timeout_ms_bounds_a_slow_request(db, server):
    ds = server.add_dataset("slow", orders(range(1, 3)))
    ds.faults.append(Fault(delay_headers=5))
    db.register("slow", server.url("/slow"), "public.slow", ORDER_COLUMNS,
                options={"timeout_ms": 500, "max_retries": 0})
    started = time.monotonic()
    with pytest.raises(psycopg.Error) as e:
        db.run("slow")
    assert time.monotonic() - started < 4
    assert "timed out" in str(e.value).lower() or "timeout" in str(e.value).lower(), str(e.value)


def test_limits_are_checked_at_registration(db, server):
    with pytest.raises(psycopg.Error, match="connect_timeout_ms"):
        db.register("lim", server.url("/x"), "public.lim", ORDER_COLUMNS, options={"connect_timeout_ms": 0})
    with pytest.raises(psycopg.Error, match="max_response_bytes"):
        db.register("lim", server.url("/x"), "public.lim", ORDER_COLUMNS, options={"max_response_bytes": -1})


# ---- connect timeouts (TLS included) and the superuser's limits ---------------------------------------------------

def test_connect_timeout_ms_bounds_connecting_tls_included(db):
    mute = SilentServer().start()  # accepts the TCP connection, never answers the TLS handshake
    try:
        db.register("ct", "https://127.0.0.1:%d/x" % mute.port, "public.ct", ORDER_COLUMNS,
                    options={"connect_timeout_ms": 500, "max_retries": 0})
        started = time.monotonic()
        with pytest.raises(psycopg.errors.ExternalRoutineException) as e:
            db.run("ct")
        took = time.monotonic() - started
    finally:
        mute.stop()
    print("\n%.0f ms: %s" % (took * 1000, e.value))
    assert mute.accepted == 1  # connected: what timed out is the TLS handshake
    assert "timed out" in str(e.value) or "timeout" in str(e.value), str(e.value)
    assert 0.45 < took < 3.0, took


def test_connect_timeout_limit_bounds_what_a_source_asks_for(db):
    set_db_setting(db, "bulk_ingest.connect_timeout_limit", "300ms")
    mute = SilentServer().start()
    try:
        db.register("ctl", "https://127.0.0.1:%d/x" % mute.port, "public.ctl", ORDER_COLUMNS,
                    options={"connect_timeout_ms": 30000, "max_retries": 0})
        started = time.monotonic()
        with pytest.raises(psycopg.errors.ExternalRoutineException) as e:
            db.run("ctl")
        took = time.monotonic() - started
    finally:
        mute.stop()
    assert "timed out" in str(e.value) or "timeout" in str(e.value), str(e.value)
    assert 0.25 < took < 3.0, "connect_timeout_ms 30000 under a limit of 300ms took %.1f s" % took


def test_request_timeout_limit_bounds_a_source_without_timeout_ms(db, server):
    set_db_setting(db, "bulk_ingest.request_timeout_limit", "500ms")
    ds = server.add_dataset("rtl", orders(range(1, 3)))
    ds.faults.append(Fault(delay_headers=5))
    db.register("rtl", server.url("/rtl"), "public.rtl", ORDER_COLUMNS, options={"max_retries": 0})  # no timeout_ms
    started = time.monotonic()
    with pytest.raises(psycopg.errors.ExternalRoutineException) as e:
        db.run("rtl")
    took = time.monotonic() - started
    assert "timed out" in str(e.value).lower(), str(e.value)
    assert 0.45 < took < 3.5, took


@pytest.mark.parametrize("declared, applies", [(0, 2048), (1000, 1000), (100000, 2048)])
def test_response_size_limit_bounds_what_a_source_accepts(db, server, declared, applies):
    set_db_setting(db, "bulk_ingest.response_size_limit", "2kB")
    server.add_dataset("rsl", orders(range(1, 200)), page_size=1000)
    db.register("rsl", server.url("/rsl"), "public.rsl", ORDER_COLUMNS, upsert="off",
                options={"max_response_bytes": declared, "batch_rows": 1000})
    with pytest.raises(psycopg.errors.ExternalRoutineException) as e:
        db.run("rsl")
    assert "larger than the maximum of %d bytes" % applies in str(e.value), str(e.value)
    assert db.count("public.rsl") == 0
    assert len(server.requests_for("rsl")) == 1  # not retried


@pytest.mark.parametrize("setting", ["connect_timeout_limit", "request_timeout_limit", "response_size_limit"])
def test_only_a_superuser_sets_the_limits(db, server, setting):
    alice = db.create_role("alice")
    db.execute('GRANT CREATE ON SCHEMA public TO "%s"' % alice)
    conn = db.connect(user=alice)
    db.register("lim_%s" % setting, server.url("/x"), "public.lim", ORDER_COLUMNS, conn=conn)  # the library loaded
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied to set parameter"):
        conn.execute("SET bulk_ingest.%s = 0" % setting)


# ---- issue 10: the largest record (bulk_ingest.max_record_size) bounds a worker's memory -------------------------

def limit_records(db, size):
    """bulk_ingest.max_record_size for the runs of this test's database (a run's worker reads it when it connects)."""
    db.execute("ALTER DATABASE \"%s\" SET bulk_ingest.max_record_size = '%s'" % (db.name, size))


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_a_record_longer_than_max_record_size_fails_naming_source_batch_and_line(db, server, fmt):
    limit_records(db, "1MB")
    big = "x" * (2 * 1024 * 1024)
    if fmt == "ndjson":
        body, kw = '{"id": 1, "v": "a"}\n{"id": 2, "v": "%s"}\n' % big, {}
    elif fmt == "json":
        body, kw = '[{"id": 1, "v": "a"}, {"id": 2, "v": "%s"}]' % big, {"format": "json"}
    else:
        body, kw = 'id,v\n1,a\n2,%s\n' % big, {"format": "csv"}
    server.add_route("/long", body)
    db.register("long_" + fmt, server.url("/long"), "public.long", [{"name": "id", "type": "int"},
                {"name": "v", "type": "text"}], options={"max_retries": 0}, **kw)
    with pytest.raises(psycopg.Error) as e:
        db.run("long_" + fmt)
    msg = str(e.value)
    unit = {"ndjson": "line 2", "json": "record 2", "csv": "line 3"}[fmt]
    assert 'source "long_%s"' % fmt in msg and "batch 1" in msg and unit in msg, msg
    assert "bulk_ingest.max_record_size" in msg and "1 MB" in msg, msg
    assert db.count("public.long") == 0  # the batch in flight left nothing
    assert db.last_run("long_" + fmt)["status"] == "failed"


def test_records_up_to_max_record_size_load(db, server):
    limit_records(db, "1MB")
    value = "y" * (1024 * 1024 - 100)
    server.add_route("/fits", '{"id": 1, "v": "%s"}\n' % value)
    db.register("fits", server.url("/fits"), "public.fits", [{"name": "id", "type": "int"},
                {"name": "v", "type": "text"}])
    assert db.run("fits")["rows"] == 1
    assert db.scalar("SELECT length(v) FROM public.fits") == len(value)


def test_max_record_size_has_a_default_of_64_mb(db, server):
    db.execute("LOAD 'pg_bulk_ingest'")
    assert db.scalar("SHOW bulk_ingest.max_record_size") == "64MB"
    # A line just over it fails cleanly (the worker stops reading it at the limit).
    big = b'{"id": 1, "v": "' + b"z" * (64 * 1024 * 1024) + b'"}\n'
    server.add_route("/over", big)
    db.register("over", server.url("/over"), "public.over", [{"name": "id", "type": "int"},
                {"name": "v", "type": "text"}], options={"max_retries": 0})
    with pytest.raises(psycopg.Error) as e:
        db.run("over")
    assert "line 1" in str(e.value) and "bulk_ingest.max_record_size" in str(e.value), str(e.value)
