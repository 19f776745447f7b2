#!/usr/bin/python3
"""The server log as a test oracle: the lines that say a process crashed or leaked, which no test may cause unless
it says so.

Every integration test (test/integration/conftest.py) and the pg_regress run (scripts/test.sh) fail when the log
of a cluster they used gains such a line while they run. A test that kills a process on purpose declares the lines
it expects (`expect_log(pattern, ...)` in the integration tests); only those are excused.

Library:

    from serverlog import problems, read_log
    problems(text, expected=[r"terminated by signal 9"])   # -> the offending lines, in order

Command line (scripts/test.sh after pg_regress):

    /usr/bin/python3 test/lib/serverlog.py check LOGFILE [--from BYTE_OFFSET] [--expect REGEX ...]
        exit status 0 when the log (from the offset on) has no such line, 1 (and the lines on stderr) otherwise
"""

import argparse
import re
import sys

# (pattern, what it means). Searched in every line of the log; PostgreSQL's prefix (time, pid, user@db) is kept, so
# the patterns do not anchor at the start.
BAD_LINES = [
    (r"terminated by signal", "a process died of a signal (a crash, or a kill nobody declared)"),
    (r"\bPANIC:", "a PANIC"),
    (r"server process \(PID \d+\) was terminated", "a backend was terminated abnormally"),
    (r"exited with exit code (?:[2-9]|\d\d+)\b", "a process exited with a crash status"),
    (r"pg_bulk_ingest launcher\" \(PID \d+\) exited with exit code [1-9]", "an error escaped the launcher"),
    (r"terminating any other active server processes", "crash recovery: the postmaster reset every backend"),
    (r"all server processes terminated; reinitializing", "crash recovery"),
    (r"\bTRAP:", "an assertion of PostgreSQL failed"),
    (r"Assertion [`'].*' failed", "an assert() failed"),
    (r"terminate called (after throwing|without an active exception)", "a C++ exception escaped (std::terminate)"),
    (r"Sanitizer", "a sanitizer report"),
    (r"resource was not closed", "a leaked resource"),
    (r"WARNING:.*\bleak", "a leaked resource (buffer, relcache, snapshot, tupdesc, DSM, temporary file, ...)"),
    (r"WARNING:.*transaction left non-empty SPI stack", "SPI_connect without SPI_finish"),
    (r"WARNING:.*problem in alloc set", "memory context corruption"),
    (r"WARNING:.*you don't own a lock", "a lock released twice"),
    (r"stuck spinlock", "a stuck spinlock"),
]
_BAD = [(re.compile(p), why) for p, why in BAD_LINES]


def problems(text, expected=()):
    """The lines of `text` that match a BAD_LINES pattern and none of the `expected` regular expressions, as
    (line, what it means) pairs."""
    excuses = [re.compile(p) for p in expected]
    found = []
    for line in text.splitlines():
        for pattern, why in _BAD:
            if pattern.search(line):
                if not any(e.search(line) for e in excuses):
                    found.append((line, why))
                break
    return found


def read_log(path, start=0, end=None):
    """The log's text from byte `start` to byte `end` (the end of the file when None), and the offset it ends at."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(max(0, end - start))
    except OSError:
        return "", start
    return data.decode("utf-8", errors="replace"), start + len(data)


def describe(found, limit=20):
    lines = ["  %s\n      (%s)" % (line, why) for line, why in found[:limit]]
    if len(found) > limit:
        lines.append("  ... and %d more" % (len(found) - limit))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fail on server log lines that say a process crashed or leaked.")
    parser.add_argument("command", choices=["check"])
    parser.add_argument("log")
    parser.add_argument("--from", dest="start", type=int, default=0, help="byte offset to start at")
    parser.add_argument("--expect", action="append", default=[], help="a regex of lines caused on purpose")
    args = parser.parse_args(argv)
    text, _ = read_log(args.log, args.start)
    found = problems(text, args.expect)
    if found:
        print("server log %s: %d line(s) that no test declared:\n%s" % (args.log, len(found), describe(found)),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
