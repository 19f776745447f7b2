"""Auth and secrets (issue 5): headers, bearer tokens, basic auth and API keys in the URL reference secrets set with
bulk_ingest_set_secret; a secret never shows in the catalog, the run's error or attempts, the progress view,
pg_stat_activity or the server log."""

import urllib.parse

import psycopg
import pytest

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders

TOKEN = "tok-3f9a1c77e2"


def test_bearer_token_from_a_secret(db, server):
    ds = server.add_dataset("bearer", orders(range(1, 4)))
    ds.require_headers = {"Authorization": "Bearer " + TOKEN}
    db.register("bearer", server.url("/bearer"), "public.bearer", ORDER_COLUMNS,
                options={"headers": {"Authorization": "Bearer {secret:token}"}})
    db.execute("SELECT bulk_ingest_set_secret('bearer', 'token', %s)", (TOKEN,))
    assert db.run("bearer")["rows"] == 3
    # The secret is nowhere a user can read it.
    assert TOKEN not in str(db.query("SELECT * FROM bulk_ingest.sources"))
    assert TOKEN not in str(db.query("SELECT * FROM bulk_ingest.runs"))


def test_wrong_token_is_a_clear_401_without_retries_and_without_the_token(db, server):
    ds = server.add_dataset("wrongtok", orders(range(1, 3)))
    ds.require_headers = {"Authorization": "Bearer right-token-value"}
    db.register("wrongtok", server.url("/wrongtok"), "public.wrongtok", ORDER_COLUMNS,
                options={"headers": {"Authorization": "Bearer {secret:token}"}})
    db.execute("SELECT bulk_ingest_set_secret('wrongtok', 'token', %s)", (TOKEN,))
    with pytest.raises(psycopg.Error) as e:
        db.run("wrongtok")
    assert "401" in str(e.value)
    assert len(server.requests_for("wrongtok")) == 1
    run = db.last_run("wrongtok")
    assert TOKEN not in str(e.value) and TOKEN not in (run["error"] or "") and TOKEN not in (run["attempts"] or "")


def test_api_key_in_the_url_is_redacted_from_errors_and_attempts(db, server):
    ds = server.add_dataset("apikey", orders(range(1, 3)))
    ds.faults.append(Fault(status=500, body="boom\n"))
    db.register("apikey", server.url("/apikey?api_key={secret:key}"), "public.apikey", ORDER_COLUMNS,
                options={"max_retries": 1})
    db.execute("SELECT bulk_ingest_set_secret('apikey', 'key', %s)", (TOKEN,))
    with pytest.raises(psycopg.Error) as e:
        db.run("apikey")
    run = db.last_run("apikey")
    assert server.requests_for("apikey")[0].query["api_key"] == TOKEN  # sent...
    for text in (str(e.value), run["error"], run["attempts"]):  # ...never shown
        assert text and TOKEN not in text and "***" in text, text


def test_basic_auth(db, server):
    ds = server.add_dataset("basic", orders(range(1, 3)))
    ds.require_headers = {"Authorization": "Basic dXNlcjpwYSBzcw=="}  # user:pa ss
    db.register("basic", server.url("/basic"), "public.basic", ORDER_COLUMNS,
                options={"basic_auth": {"username": "user", "password": "{secret:pw}"}})
    db.execute("SELECT bulk_ingest_set_secret('basic', 'pw', 'pa ss')")
    assert db.run("basic")["rows"] == 2


def test_a_missing_secret_is_a_clear_error(db, server):
    server.add_dataset("nosecret", orders(range(1, 3)))
    db.register("nosecret", server.url("/nosecret"), "public.nosecret", ORDER_COLUMNS,
                options={"headers": {"X-Api-Key": "{secret:api}"}})
    with pytest.raises(psycopg.Error, match='secret "api" is not set'):
        db.run("nosecret")


def test_secrets_are_set_by_the_owner_only_and_read_by_nobody(db, server):
    owner = db.create_role("sec_owner")
    other = db.create_role("sec_other")
    db.execute('GRANT CREATE ON SCHEMA public TO "%s"' % owner)
    as_owner = db.connect(user=owner)
    db.register("mine", server.url("/x"), "public.mine", ORDER_COLUMNS, conn=as_owner)
    db.execute("SELECT bulk_ingest_set_secret('mine', 'token', 'owner-secret-1')", conn=as_owner)
    with pytest.raises(psycopg.Error, match="permission denied"):
        db.execute("SELECT * FROM bulk_ingest.secrets", conn=as_owner)
    as_other = db.connect(user=other)
    with pytest.raises(psycopg.Error, match="permission denied"):
        db.execute("SELECT bulk_ingest_set_secret('mine', 'token', 'hijack')", conn=as_other)
    with pytest.raises(psycopg.Error, match="permission denied"):
        db.execute("SELECT * FROM bulk_ingest.secrets", conn=as_other)
    assert db.scalar("SELECT value FROM bulk_ingest.secrets WHERE source = 'mine'") == "owner-secret-1"
    # The owner reads its secrets through the extension; nobody else can.
    assert db.scalar("SELECT bulk_ingest_get_secret('mine', 'token')", conn=as_owner) == "owner-secret-1"
    assert db.scalar("SELECT bulk_ingest_get_secret('mine', 'nope')", conn=as_owner) is None
    with pytest.raises(psycopg.Error, match="permission denied"):
        db.execute("SELECT bulk_ingest_get_secret('mine', 'token')", conn=as_other)
    db.execute("SELECT bulk_ingest_set_secret('mine', 'token', NULL)", conn=as_owner)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.secrets WHERE source = 'mine'") == 0


def test_secrets_never_show_in_the_progress_view_pg_stat_activity_or_the_server_log(bgdb, server):
    # In the launcher's database: its progress view is there. The key changes when percent-encoded into the URL.
    key, token = "key/+ 7c41", "tok-9b2e55"
    shown = [key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key), token]
    offset = bgdb.cluster.log_offset()
    gate = Gate()
    ds = server.add_dataset("sec", orders(range(1, 7)), page_size=3)
    ds.require_headers = {"Authorization": "Bearer " + token}
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1, close_after=2, times=1))  # held, then cut short
    bgdb.register("sec", server.url("/sec?api_key={secret:key}&since={high_watermark}"), "public.sec", ORDER_COLUMNS,
                  high_watermark_column="updated_at",
                  options={"headers": {"Authorization": "Bearer {secret:token}"}, "max_retries": 0})
    bgdb.execute("SELECT bulk_ingest_set_secret('sec', 'key', %s), bulk_ingest_set_secret('sec', 'token', %s)",
                 (key, token))

    run_id = bgdb.start("sec")
    gate.wait_reached()
    progress = bgdb.progress("sec")
    activity = bgdb.query("SELECT * FROM pg_stat_activity")
    assert len(progress) == 1 and "api_key=***" in progress[0]["url"], progress
    assert any(a["backend_type"] == "pg_bulk_ingest run" for a in activity), activity
    gate.release()
    run = bgdb.wait_run(run_id)
    assert run["status"] == "failed" and "api_key=***" in run["error"], run["error"]

    # The source got the real values; nothing anyone can read shows them.
    request = server.requests_for("sec")[0]
    assert request.query["api_key"] == key and request.headers["Authorization"] == "Bearer " + token
    log = bgdb.cluster.log_since(offset)
    assert 'run %d of source "sec" failed' % run_id in log and "api_key=***" in log, log[-3000:]
    for place, text in (("progress", str(progress)), ("pg_stat_activity", str(activity)), ("the server log", log),
                        ("bulk_ingest.runs", str(bgdb.runs("sec"))), ("bulk_ingest.sources", str(bgdb.source_row("sec")))):
        for secret in shown:
            assert secret not in text, "%r shows in %s" % (secret, place)
