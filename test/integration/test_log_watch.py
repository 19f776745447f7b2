"""The server log watch (conftest.server_log_watch, test/lib/serverlog.py) works: a crash nobody declared fails the
test that caused it, a declared one does not, and the command scripts/test.sh runs after pg_regress fails on one.

The crash itself happens in a pytest run of its own (a subprocess with its own cluster), so that this session's
clusters never crash."""

import os
import subprocess
import sys
import textwrap

import serverlog

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERLOG = os.path.join(HERE, "..", "lib", "serverlog.py")

CRASHING_TESTS = textwrap.dedent('''
    import os
    import signal
    import time


    def crash_a_backend(db):
        """SIGSEGV to a backend, as a bug would; returns once the server takes connections again."""
        offset = db.cluster.log_offset()
        os.kill(db.connect().info.backend_pid, signal.SIGSEGV)
        deadline = time.monotonic() + 60
        while "ready to accept connections" not in db.cluster.log_since(offset):
            assert time.monotonic() < deadline, db.cluster.log_since(offset)
            time.sleep(0.05)


    def test_an_undeclared_crash(db):
        crash_a_backend(db)


    def test_a_declared_crash(db, expect_log):
        expect_log(r"terminated by signal 11", r"terminating any other active server processes",
                   r"all server processes terminated; reinitializing")
        crash_a_backend(db)


    def test_a_clean_test_after_the_crashes(db):
        assert db.scalar("SELECT 1") == 1
''')


def test_the_patterns_catch_crashes_and_leaks_and_excuse_only_what_is_declared():
    prefix = "2026-12-01 10:00:00.000 UTC [123] "
    bad = [
        prefix + "LOG:  server process (PID 4711) was terminated by signal 11: Segmentation fault",
        prefix + 'LOG:  background worker "pg_bulk_ingest run" (PID 4712) was terminated by signal 6: Aborted',
        prefix + "LOG:  terminating any other active server processes",
        prefix + "LOG:  all server processes terminated; reinitializing",
        prefix + "PANIC:  could not write to file",
        prefix + "LOG:  server process (PID 4713) exited with exit code 2",
        prefix + 'LOG:  background worker "pg_bulk_ingest launcher" (PID 4714) exited with exit code 1',
        "TRAP: failed Assert(\"false\"), File: \"x.c\", Line: 1, PID: 4715",
        "terminate called after throwing an instance of 'std::runtime_error'",
        prefix + "WARNING:  relcache reference leak: relation \"t\" not closed",
        prefix + "WARNING:  resource was not closed: relation \"t\"",
        prefix + "WARNING:  transaction left non-empty SPI stack",
    ]
    fine = [
        prefix + "LOG:  database system is ready to accept connections",
        prefix + "FATAL:  terminating connection due to administrator command",
        prefix + 'LOG:  background worker "logical replication launcher" (PID 9) exited with exit code 1',
        prefix + "ERROR:  canceling statement due to user request",
        prefix + "LOG:  pg_bulk_ingest: run 3 of source \"x\" was cancelled: cancelled",
    ]
    found = serverlog.problems("\n".join(fine + bad))
    assert [line for line, _ in found] == bad
    assert all(why for _, why in found)
    # A declared line is excused, and only that one.
    found = serverlog.problems("\n".join(bad), expected=[r"terminated by signal 11"])
    assert [line for line, _ in found] == bad[1:]


def test_an_undeclared_backend_crash_fails_the_test_and_a_declared_one_does_not(tmp_path):
    path = tmp_path / "test_crashes.py"
    path.write_text(CRASHING_TESTS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-rA",
                           str(path)], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300)
    out = proc.stdout
    summary = [line for line in out.splitlines() if line.startswith(("PASSED ", "FAILED ", "ERROR "))]
    assert proc.returncode == 1, out[-5000:]
    assert any(line.startswith("ERROR ") and "test_an_undeclared_crash" in line for line in summary), out[-5000:]
    assert "PASSED test_crashes.py::test_an_undeclared_crash" in out  # the test body passed: the watch failed it
    assert "PASSED test_crashes.py::test_a_declared_crash" in summary, out[-5000:]
    assert "PASSED test_crashes.py::test_a_clean_test_after_the_crashes" in summary, out[-5000:]
    assert not any("test_a_declared_crash" in line or "test_a_clean_test" in line
                   for line in summary if not line.startswith("PASSED ")), summary
    # The failure names the line and says what it means.
    assert "did not declare" in out and "terminated by signal 11" in out and "a process died of a signal" in out


def test_the_command_that_checks_the_pg_regress_log(tmp_path):
    crash = "LOG:  server process (PID 7) was terminated by signal 9: Killed\n"
    log = tmp_path / "server.log"
    log.write_text("LOG:  checkpoint starting\n" + crash + "LOG:  checkpoint complete\n")

    def check(*args):
        return subprocess.run([sys.executable, SERVERLOG, "check", str(log)] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)

    failed = check()
    assert failed.returncode == 1 and "terminated by signal 9" in failed.stdout, failed.stdout
    assert check("--expect", "signal 9").returncode == 0
    assert check("--from", str(len("LOG:  checkpoint starting\n"))).returncode == 1
    assert check("--from", str(len("LOG:  checkpoint starting\n") + len(crash))).returncode == 0
