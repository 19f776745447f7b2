"""HTTPS (docs/operations.md, Security: "TLS certificates are verified"): certificates made with openssl at test
time, served on 127.0.0.1. The extension has no setting to trust another CA (libcurl's system store decides), so a
certificate nobody trusts must be refused, with an error that says it is about TLS, and never retried."""

import shutil

import psycopg
import pytest

from testdata import ORDER_COLUMNS
from tls import HttpsServer, make_certificates

BODY = b'{"id": 1, "customer": "c", "amount": "1.00", "updated_at": "2024-01-01T10:00:00Z"}\n'


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is missing (scripts/install-deps.sh installs it)")
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def https(certs, request):
    servers = []

    def make(pair):
        srv = HttpsServer(pair, body=BODY).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.mark.parametrize("which, reason", [
    ("self_signed", "self-signed certificate"),
    ("by_ca", "unable to get local issuer certificate"),
], ids=["self_signed", "unknown_ca"])
def test_a_certificate_nobody_trusts_is_refused_clearly_and_not_retried(db, certs, https, which, reason):
    srv = https(getattr(certs, which))
    db.register("tls", srv.url("/orders"), "public.tls", ORDER_COLUMNS, options={"max_retries": 3})
    with pytest.raises(psycopg.errors.ExternalRoutineException) as e:
        db.run("tls")
    msg = str(e.value)
    print("\n%s\nthe server saw: %s" % (msg, srv.refusals))
    assert "TLS" in msg and reason in msg and srv.url("/orders") in msg, msg
    assert "a TLS verification failure is not retried" in msg, msg
    run = db.last_run("tls")
    assert run["status"] == "failed" and run["rows"] == 0
    # The client gave up during the handshake (its alert is what the server saw): no request was ever sent.
    assert srv.connections == 1 and srv.handshakes == 0 and srv.requests == [], (srv.connections, srv.refusals)
    assert srv.refusals and "UNKNOWN_CA" in srv.refusals[0], srv.refusals
    assert db.count("public.tls") == 0  # created before the first request, and left empty
