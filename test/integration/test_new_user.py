"""The small things a new user met (issue 12): what an HTML page served with 200 is called, and what a cancel by
bulk_ingest_cancel() is called."""

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders


def test_an_html_page_served_with_200_is_named_as_such(db, server):
    server.add_route("/login", "<!DOCTYPE html><html><body>Please sign in</body></html>\n",
                     content_type="text/html; charset=utf-8")
    db.register("html", server.url("/login"), "public.html", ORDER_COLUMNS)
    msg, run = db.run_fails("html")
    assert "invalid JSON" in msg and "the response's Content-Type is text/html; charset=utf-8, not JSON" in msg, msg
    assert "text/html" in run["error"]


def test_a_cancel_by_bulk_ingest_cancel_says_so(db, server):
    ds = server.add_dataset("cnc", orders(range(1, 6)), page_size=10)
    gate = Gate()
    ds.faults.append(Fault(page=1, gate=gate, gate_after=2))
    db.register("cnc", server.url("/cnc"), "public.cnc", ORDER_COLUMNS)
    thread = db.run_in_thread("cnc")
    gate.wait_reached()
    run_id = db.scalar("SELECT id FROM bulk_ingest.runs WHERE source = 'cnc' AND status = 'running'")
    assert db.scalar("SELECT bulk_ingest_cancel(%s)", (run_id,)) is True
    gate.release()
    try:
        thread.wait()
    except Exception:
        pass
    run = db.last_run("cnc")
    assert run["status"] == "cancelled"
    assert "bulk_ingest_cancel()" in run["error"], run["error"]
