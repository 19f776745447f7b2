#!/usr/bin/python3
"""A throwaway PostgreSQL 15 cluster for tests and the demo: a library and a command-line tool.

Layout, under $PG_BULK_INGEST_TEST_DIR (default /tmp/pg_bulk_ingest_test):

    <name>/cluster.json     port, paths and settings (so the command-line tool can find the cluster again)
    <name>/data/            the data directory (owned by the postgres OS user)
    <name>/data/server.log  the server log (pg_ctl -l; appended across restarts)
    <name>/sock/            the private unix socket directory

initdb and pg_ctl refuse to run as root, so when this runs as root they run as the postgres OS user through
`runuser -u postgres --`; when it runs as any other user they run as that user. Authentication is `trust` and the
bootstrap superuser is `postgres`. The server listens on the unix socket only unless `listen_addresses` is set.

Library:

    from pgcluster import Cluster
    c = Cluster("it", port=None, settings={"shared_preload_libraries": "pg_bulk_ingest"})
    c.init(); c.start()
    with c.connect(dbname="postgres") as conn: ...
    c.restart(mode="immediate"); c.stop(); c.destroy()

Command line:

    /usr/bin/python3 test/lib/pgcluster.py init    --name demo [--port 5433] [--set key=value ...]
    /usr/bin/python3 test/lib/pgcluster.py start   --name demo
    /usr/bin/python3 test/lib/pgcluster.py stop    --name demo [--mode fast|immediate|smart]
    /usr/bin/python3 test/lib/pgcluster.py restart --name demo [--mode fast|immediate]
    /usr/bin/python3 test/lib/pgcluster.py status  --name demo        # exit status 0 when running, 3 when not
    /usr/bin/python3 test/lib/pgcluster.py env     --name demo        # export PGHOST=... PGPORT=... PGUSER=postgres
    /usr/bin/python3 test/lib/pgcluster.py log     --name demo        # print the server log's path
    /usr/bin/python3 test/lib/pgcluster.py psql    --name demo [-- psql args]
    /usr/bin/python3 test/lib/pgcluster.py destroy --name demo        # stop (immediate) and delete everything
"""

import argparse
import json
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import time

BASE_DIR = os.environ.get("PG_BULK_INGEST_TEST_DIR", "/tmp/pg_bulk_ingest_test")
OS_USER = "postgres"
SUPERUSER = "postgres"

# Settings every test cluster gets; callers add or override.
DEFAULT_SETTINGS = {
    "listen_addresses": "",
    "max_connections": "50",
    "max_worker_processes": "16",
    "fsync": "off",                 # throwaway: speed over durability of the OS cache (crash tests still work:
    "synchronous_commit": "on",     # an immediate shutdown is a PostgreSQL crash, not an OS crash)
    "full_page_writes": "off",
    "shared_buffers": "128MB",
    "log_line_prefix": "%m [%p] %q%u@%d ",
    "log_min_messages": "info",
    "log_min_error_statement": "error",
    "timezone": "UTC",
    "lc_messages": "C",
    # The loopback address every test and the demo serve from (never any other address): the extension refuses
    # loopback by default (bulk_ingest.allowed_hosts = public).
    "bulk_ingest.allowed_hosts": "127.0.0.1",
}


def bindir():
    """The PostgreSQL 15 binaries: $PG_BINDIR, else /usr/lib/postgresql/15/bin, else `pg_config --bindir`."""
    env = os.environ.get("PG_BINDIR")
    if env:
        return env
    debian = "/usr/lib/postgresql/15/bin"
    if os.path.exists(os.path.join(debian, "pg_ctl")):
        return debian
    pg_config = os.environ.get("PG_CONFIG", "pg_config")
    return subprocess.check_output([pg_config, "--bindir"], text=True).strip()


def free_port(start=None):
    """A TCP port nobody listens on at 127.0.0.1 (also used for the socket file name)."""
    if start:
        for port in range(start, start + 200):
            if _port_free(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _quote_conf(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


class ClusterError(RuntimeError):
    pass


class Cluster:
    def __init__(self, name="test", port=None, settings=None, base_dir=None):
        self.name = name
        self.root = os.path.join(base_dir or BASE_DIR, name)
        self.datadir = os.path.join(self.root, "data")
        self.sockdir = os.path.join(self.root, "sock")
        self.log_path = os.path.join(self.datadir, "server.log")
        self.meta_path = os.path.join(self.root, "cluster.json")
        self.bindir = bindir()
        meta = self._load_meta()
        self.port = int(port or meta.get("port") or 0) or None
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings.update(meta.get("settings", {}))
        self.settings.update(settings or {})

    # ---- running commands as the cluster's OS user -------------------------------------------------------------

    @staticmethod
    def _as_owner():
        """The argv prefix that runs a command as the owner of the cluster's files."""
        if os.geteuid() == 0:
            return ["runuser", "-u", OS_USER, "--"]
        return []

    def _run(self, argv, check=True, timeout=120, **kw):
        cmd = self._as_owner() + argv
        proc = subprocess.run(cmd, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, **kw)
        if check and proc.returncode != 0:
            raise ClusterError("%s failed (exit %d):\n%s" % (" ".join(cmd), proc.returncode, proc.stdout))
        return proc

    def _chown(self, path):
        if os.geteuid() == 0:
            pw = pwd.getpwnam(OS_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _load_meta(self):
        try:
            with open(self.meta_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _save_meta(self):
        with open(self.meta_path, "w") as f:
            json.dump({"name": self.name, "port": self.port, "datadir": self.datadir, "sockdir": self.sockdir,
                       "log": self.log_path, "settings": self.settings}, f, indent=2)
        self._chown(self.meta_path)

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    def exists(self):
        return os.path.exists(os.path.join(self.datadir, "PG_VERSION"))

    def init(self, force=True):
        """initdb a new cluster (an existing one of the same name is stopped and deleted first unless force=False,
        in which case an existing cluster is kept and only its settings are rewritten)."""
        if self.exists() and not force:
            self.write_settings()
            return self
        self.destroy()
        base = os.path.dirname(self.root)
        if not os.path.isdir(base):
            os.makedirs(base, exist_ok=True)
            if os.geteuid() == 0:
                os.chmod(base, 0o1777)  # like /tmp: root and postgres may both create clusters here
        os.makedirs(self.root)
        os.makedirs(self.sockdir)
        os.chmod(self.root, 0o755)
        os.chmod(self.sockdir, 0o755)
        for path in (self.root, self.sockdir):
            self._chown(path)
        if not self.port:
            self.port = free_port(int(os.environ.get("PGCLUSTER_PORT_BASE", "54320")))
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.datadir, "-U", SUPERUSER, "--auth=trust",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            f.write("\n# pg_bulk_ingest test settings\ninclude_if_exists = 'pg_bulk_ingest_test.conf'\n")
        self.write_settings()
        self._save_meta()
        return self

    def write_settings(self, **more):
        """(Re)write the cluster's settings file; takes effect at the next reload or restart."""
        self.settings.update({k: str(v) if not isinstance(v, (bool, int, float)) else v for k, v in more.items()})
        lines = ["port = %d" % self.port, "unix_socket_directories = %s" % _quote_conf(self.sockdir)]
        for key, value in self.settings.items():
            if value is None:
                continue
            lines.append("%s = %s" % (key, _quote_conf(value)))
        path = os.path.join(self.datadir, "pg_bulk_ingest_test.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self._chown(path)
        if os.path.isdir(self.root):
            self._save_meta()

    def start(self, timeout=60):
        if not self.exists():
            raise ClusterError("no cluster at %s: run init first" % self.datadir)
        if self.is_running():
            return self
        if not os.path.exists(self.log_path):
            open(self.log_path, "a").close()
            self._chown(self.log_path)
        # $PG_BULK_INGEST_SERVER_ENV: NAME=VALUE words for the server's environment (scripts/test-asan-integration.sh
        # preloads the ASan runtime with it).
        server_env = ["env"] + shlex.split(os.environ.get("PG_BULK_INGEST_SERVER_ENV", ""))
        self._run(server_env + [os.path.join(self.bindir, "pg_ctl"), "start", "-D", self.datadir, "-l",
                                self.log_path, "-w", "-t", str(timeout)], timeout=timeout + 30)
        self.wait_ready(timeout)
        return self

    def stop(self, mode="fast", timeout=60):
        if self.exists() and self.is_running():
            self._run([os.path.join(self.bindir, "pg_ctl"), "stop", "-D", self.datadir, "-m", mode, "-w",
                       "-t", str(timeout)], timeout=timeout + 30)
        return self

    def restart(self, mode="fast", timeout=60):
        self.stop(mode=mode, timeout=timeout)
        return self.start(timeout=timeout)

    def reload(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "reload", "-D", self.datadir])
        return self

    def is_running(self):
        if not self.exists():
            return False
        proc = self._run([os.path.join(self.bindir, "pg_ctl"), "status", "-D", self.datadir], check=False)
        return proc.returncode == 0

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            proc = self._run([os.path.join(self.bindir, "pg_isready"), "-h", self.sockdir, "-p", str(self.port),
                              "-U", SUPERUSER, "-d", "postgres"], check=False)
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise ClusterError("server not ready after %ss; log %s:\n%s" % (timeout, self.log_path,
                                                                                self.log_tail()))
            time.sleep(0.1)

    def destroy(self):
        """Stop the cluster (immediate) if it runs and delete its directory."""
        if self.exists():
            try:
                self.stop(mode="immediate")
            except ClusterError:
                pass
        if os.path.isdir(self.root):
            shutil.rmtree(self.root, ignore_errors=True)
            if os.path.isdir(self.root):  # root may not be able to delete? it can; a non-root user may need help
                self._run(["rm", "-rf", self.root], check=False)

    # ---- connecting ------------------------------------------------------------------------------------------

    def env(self, dbname=None):
        env = {"PGHOST": self.sockdir, "PGPORT": str(self.port), "PGUSER": SUPERUSER}
        if dbname:
            env["PGDATABASE"] = dbname
        return env

    def conninfo(self, dbname="postgres", user=SUPERUSER, **extra):
        parts = {"host": self.sockdir, "port": str(self.port), "dbname": dbname, "user": user}
        parts.update({k: str(v) for k, v in extra.items()})
        return " ".join("%s='%s'" % (k, v.replace("\\", "\\\\").replace("'", "\\'")) for k, v in parts.items())

    def connect(self, dbname="postgres", user=SUPERUSER, autocommit=True, **kw):
        import psycopg  # imported lazily: the command-line tool works without it
        return psycopg.connect(host=self.sockdir, port=self.port, dbname=dbname, user=user,
                               autocommit=autocommit, **kw)

    def psql(self, *args, dbname="postgres", check=True, input=None):
        """Run psql (as the current OS user) against the cluster; returns the CompletedProcess."""
        env = dict(os.environ, **self.env())
        cmd = [os.path.join(self.bindir, "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-d", dbname] + list(args)
        proc = subprocess.run(cmd, env=env, input=input, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        if check and proc.returncode != 0:
            raise ClusterError("psql failed (exit %d):\n%s" % (proc.returncode, proc.stdout))
        return proc

    # ---- the server log --------------------------------------------------------------------------------------

    def log_offset(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset=0):
        try:
            with open(self.log_path, errors="replace") as f:
                f.seek(offset)
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_since(0).splitlines()[-n:])

    def __repr__(self):
        return "Cluster(%r, port=%r, datadir=%r)" % (self.name, self.port, self.datadir)


# ---- command line ---------------------------------------------------------------------------------------------

def _parse_settings(pairs):
    settings = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit("--set wants key=value, got %r" % pair)
        key, value = pair.split("=", 1)
        settings[key.strip()] = value
    return settings


def main(argv=None):
    parser = argparse.ArgumentParser(description="Manage a throwaway PostgreSQL 15 cluster for pg_bulk_ingest tests.")
    parser.add_argument("command", choices=["init", "start", "stop", "restart", "reload", "status", "env", "log",
                                            "psql", "destroy"])
    parser.add_argument("--name", default=os.environ.get("PGCLUSTER_NAME", "test"))
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="a postgresql.conf setting (repeatable)")
    parser.add_argument("--mode", default="fast", choices=["smart", "fast", "immediate"])
    parser.add_argument("--keep", action="store_true", help="init: keep an existing cluster (only rewrite settings)")
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = []
    if "--" in argv:  # psql: everything after -- goes to psql
        rest = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    args = parser.parse_args(argv)

    cluster = Cluster(args.name, port=args.port, settings=_parse_settings(args.set))
    cmd = args.command
    try:
        if cmd == "init":
            cluster.init(force=not args.keep)
            print("initialised %s: port %d, data %s, socket %s" % (cluster.name, cluster.port, cluster.datadir,
                                                                    cluster.sockdir))
        elif cmd == "start":
            if args.set:
                cluster.write_settings()
            cluster.start()
            print("started %s: PGHOST=%s PGPORT=%d, log %s" % (cluster.name, cluster.sockdir, cluster.port,
                                                               cluster.log_path))
        elif cmd == "stop":
            cluster.stop(mode=args.mode)
            print("stopped %s" % cluster.name)
        elif cmd == "restart":
            if args.set:
                cluster.write_settings()
            cluster.restart(mode=args.mode)
            print("restarted %s (%s)" % (cluster.name, args.mode))
        elif cmd == "reload":
            if args.set:
                cluster.write_settings()
            cluster.reload()
        elif cmd == "status":
            running = cluster.is_running()
            print("%s: %s (port %s, data %s)" % (cluster.name, "running" if running else
                                                 ("stopped" if cluster.exists() else "absent"),
                                                 cluster.port, cluster.datadir))
            return 0 if running else 3
        elif cmd == "env":
            for key, value in cluster.env().items():
                print("export %s=%s" % (key, value))
        elif cmd == "log":
            print(cluster.log_path)
        elif cmd == "psql":
            env = dict(os.environ, **cluster.env())
            os.execvpe(os.path.join(cluster.bindir, "psql"), ["psql", "-X"] + rest, env)
        elif cmd == "destroy":
            cluster.destroy()
            print("destroyed %s" % cluster.name)
    except ClusterError as e:
        print("pgcluster: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
