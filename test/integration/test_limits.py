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
