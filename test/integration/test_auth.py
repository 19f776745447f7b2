"""Auth and secrets (issue 5): headers, bearer tokens, basic auth and API keys in the URL reference secrets set with
bulk_ingest_set_secret; a secret never shows in the catalog, the run's error or attempts, or the progress of a run."""

import psycopg
import pytest

from server import Fault
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
