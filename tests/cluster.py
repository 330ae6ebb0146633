"""A throwaway single-node SLURM cluster with a PostgreSQL-backed MLflow tracking server.

``local_cluster(root)`` needs root on Debian: it installs what is missing (``slurm-wlm``,
``munge``, ``postgresql``) with apt-get, then starts munged, slurmctld and slurmd (one node,
no accounting), a PostgreSQL server and ``mlflow server`` on 127.0.0.1, all with their
state under ``root``. Every process it starts is stopped by its PID when the block ends,
also on failure; every step has a timeout. Raises ``Unavailable`` (a reason to skip) where
that is impossible.
"""

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .conftest import PROJECT
from .servers import background_server, free_port

DEBIAN_PACKAGES = ("slurm-wlm", "munge", "postgresql")
# The cluster extra (pyproject.toml), by module name.
PYTHON_PACKAGES = {
    "snakemake_executor_plugin_slurm": "snakemake-executor-plugin-slurm",
    "psycopg2": "psycopg2-binary",
}
# srun inside a job step reads the default config path (the job step clears SLURM_CONF).
SYSTEM_SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# Written by the fsdd-pipeline cluster tests (tests/cluster.py); safe to delete."
NODE = "fsdd-node"
CLUSTER_NAME = "fsddtest"
BIN = Path(sys.executable).parent


class Unavailable(Exception):
    """The cluster cannot be started here; the message says why (the tests skip with it)."""


def _tail(text, lines=15):
    return "\n".join(str(text or "").strip().splitlines()[-lines:])


def run(command, timeout, **kwargs):
    """Run a command to completion; fail with its output if it fails or times out."""
    result = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **({} if "input" in kwargs else {"stdin": subprocess.DEVNULL}),
        **kwargs,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
            f"{_tail(result.stdout)}\n{_tail(result.stderr)}"
        )
    return result


def _installed(package):
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout.strip() == "install ok installed"


def ensure_debian_packages():
    """Install the Debian packages the cluster needs, if missing (root and apt-get only)."""
    if os.geteuid() != 0:
        raise Unavailable("the cluster tests need root (apt-get install, slurmd, chown)")
    if shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
        raise Unavailable("the cluster tests need Debian's apt-get to install slurm-wlm and co.")
    missing = [package for package in DEBIAN_PACKAGES if not _installed(package)]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    error = None
    for update_first in (False, True):  # an outdated package list: update once, retry
        try:
            if update_first:
                run(["apt-get", "update", "-q"], timeout=300, env=env)
            run(install, timeout=600, env=env)
            return
        except (RuntimeError, subprocess.TimeoutExpired) as failure:
            error = failure
    raise Unavailable(f"apt-get install {' '.join(missing)} failed: {error}")


def ensure_python_packages():
    import importlib.util

    missing = [
        dist for module, dist in PYTHON_PACKAGES.items() if not importlib.util.find_spec(module)
    ]
    if missing:
        raise Unavailable(f"missing {', '.join(missing)}: pip install -e '.[cluster]'")


def postgres_bin():
    """Debian keeps initdb and postgres in /usr/lib/postgresql/VERSION/bin (not on PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise Unavailable("postgresql is installed but initdb was not found")
    return Path(initdb).parent


def profile_partition():
    """The partition that profiles/slurm asks for: the test cluster's only partition."""
    profile = yaml.safe_load((PROJECT / "profiles/slurm/config.yaml").read_text())
    return profile["default-resources"]["slurm_partition"]


def real_memory_mb():
    meminfo = Path("/proc/meminfo").read_text()
    return int(re.search(r"MemTotal:\s+(\d+) kB", meminfo)[1]) // 1024


def slurm_config(root, munge_socket, ctld_port, slurmd_port, cpus):
    """One node, one partition, no accounting: enough for sbatch, srun and squeue."""
    host = socket.gethostname().split(".")[0]
    memory, partition = real_memory_mb(), profile_partition()
    return f"""{MARKER}
ClusterName={CLUSTER_NAME}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
ReturnToService=2
# Finished jobs stay visible to squeue this long (the executor's status checks use it).
MinJobAge=600
KillWait=5
InactiveLimit=0
NodeName={NODE} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory}
# Each CPU may be shared by up to 4 jobs, so that the 2-CPU test node runs 8 jobs at once
# the way a real cluster's nodes would.
PartitionName={partition} Nodes={NODE} Default=YES MaxTime=INFINITE OverSubscribe=FORCE:4
"""


@dataclass
class Processes:
    """Processes started here; stopped by PID, each with its process group, last first."""

    started: list = field(default_factory=list)

    def start(self, name, command, log, user=None, env=None, cwd=None, stop_signal=None):
        ids = {}
        if user is not None:
            entry = pwd.getpwnam(user)
            ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [str(c) for c in command],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
                **ids,
            )
        process.name, process.log = name, Path(log)
        process.stop_signal = stop_signal or signal.SIGTERM
        self.started.append(process)
        return process

    @staticmethod
    def stop(process, timeout=30):
        for sig, wait in ((process.stop_signal, timeout), (signal.SIGKILL, 10)):
            if process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=wait)

    def stop_all(self):
        while self.started:
            self.stop(self.started.pop())


def wait_for(check, what, timeout, process=None, interval=0.5):
    """Poll ``check()`` until it returns a true value; fail after ``timeout`` seconds or if
    ``process`` exits first, with the end of its log."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"{process.name} exited ({process.returncode}) before {what}:\n"
                f"{_tail(process.log.read_text(errors='replace'), 30)}"
            )
        try:
            value = check()
            if value:
                return value
        except Exception as error:  # not up yet
            last_error = error
        time.sleep(interval)
    log = _tail(process.log.read_text(errors="replace"), 30) if process else ""
    raise RuntimeError(f"timed out after {timeout} s waiting for {what} ({last_error})\n{log}")


@dataclass
class Cluster:
    """A running cluster: ``env`` runs SLURM commands (and snakemake) against it."""

    root: Path
    env: dict
    postgres: dict
    artifacts: Path
    tracking_uri: str = ""
    stack: contextlib.ExitStack = None
    deadline: float = 0.0

    def time_left(self):
        """Seconds left of the cluster's time limit: the timeout for the next command."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the cluster's time limit is used up")
        return left

    def slurm(self, *command, timeout=30):
        return run(command, timeout=timeout, env=self.env).stdout

    def postgres_uri(self, database):
        p = self.postgres
        return f"postgresql://{p['user']}:{p['password']}@127.0.0.1:{p['port']}/{database}"

    def create_database(self, name):
        connection = connect_postgres(self.postgres, timeout=10)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def start_tracking_server(self, database, artifacts):
        """``mlflow server`` on a new PostgreSQL database, artifacts proxied into
        ``artifacts``; stopped with the cluster. Returns its http:// URI."""
        self.create_database(database)
        port = free_port()
        command = [
            BIN / "mlflow",
            "server",
            "--backend-store-uri",
            self.postgres_uri(database),
            "--artifacts-destination",
            artifacts,
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--workers",
            "1",
        ]
        uri = f"http://127.0.0.1:{port}"
        self.stack.enter_context(
            background_server(
                [str(c) for c in command],
                f"{uri}/health",
                self.root / f"mlflow-{database}.log",
                cwd=self.root,
                env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                timeout=180,
            )
        )
        return uri


def _start_munge(processes, root):
    """munged with its own key and socket under ``root``, as the munge user."""
    munge = root / "munge"
    munge.mkdir()
    munge.chmod(0o755)  # clients need to reach the socket
    key = munge / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    entry = pwd.getpwnam("munge")
    for path in (munge, key):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    socket_path = munge / "munge.socket"
    daemon = processes.start(
        "munged",
        [
            "munged",
            "--foreground",
            f"--key-file={key}",
            f"--socket={socket_path}",
            f"--pid-file={munge / 'munged.pid'}",
            f"--seed-file={munge / 'munged.seed'}",
            f"--log-file={munge / 'munged.log'}",
        ],
        root / "munged.out",
        user="munge",
        cwd=munge,
    )

    def credential_round_trip():
        token = run(["munge", "-n", f"--socket={socket_path}"], timeout=10).stdout
        run(["unmunge", f"--socket={socket_path}"], timeout=10, input=token)
        return True

    wait_for(credential_round_trip, "munged", 30, daemon)
    return socket_path


def _start_slurm(processes, root, munge_socket, env):
    slurm = root / "slurm"
    for folder in ("state", "spool"):
        (slurm / folder).mkdir(parents=True)
    config = slurm_config(slurm, munge_socket, free_port(), free_port(), cpus=2)
    conf = slurm / "slurm.conf"
    conf.write_text(config)
    if SYSTEM_SLURM_CONF.exists() and MARKER not in SYSTEM_SLURM_CONF.read_text():
        raise Unavailable(f"{SYSTEM_SLURM_CONF} exists (a real SLURM config): not replacing it")
    SYSTEM_SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SYSTEM_SLURM_CONF.write_text(config)
    env["SLURM_CONF"] = str(conf)
    ctld = processes.start(
        "slurmctld", ["slurmctld", "-D", "-c", "-f", conf], slurm / "slurmctld.out", env=env
    )
    wait_for(lambda: run(["scontrol", "ping"], 10, env=env), "slurmctld", 60, ctld)
    slurmd = processes.start(
        "slurmd", ["slurmd", "-D", "-N", NODE, "-f", conf], slurm / "slurmd.out", env=env
    )

    def node_idle():
        state = run(["sinfo", "-h", "-N", "-o", "%T"], 10, env=env).stdout.strip()
        if state.startswith(("down", "drain")):
            run(["scontrol", "update", f"nodename={NODE}", "state=resume"], 10, env=env)
        return state == "idle"

    wait_for(node_idle, f"node {NODE} to be idle", 90, slurmd)
    # One job step end to end: munge, slurmctld, slurmd and srun all work.
    run(["srun", "--quiet", "-N1", "-n1", "true"], timeout=60, env=env)
    return conf


def _cancel_jobs(env):
    """Cancel what is left in the queue and wait (bounded) until the node has no jobs."""
    with contextlib.suppress(Exception):
        run(["scancel", "--full", f"--partition={profile_partition()}"], 20, env=env)

        def empty():
            queued = run(["squeue", "-h", "-t", "PD,R,CG", "-o", "%i"], 10, env=env)
            return not queued.stdout.strip()

        wait_for(empty, "jobs to end", 60)


def _start_postgres(processes, root):
    """A PostgreSQL server (as the postgres user: it refuses root) on 127.0.0.1."""
    folder = root / "postgres"
    folder.mkdir()
    entry = pwd.getpwnam("postgres")
    os.chown(folder, entry.pw_uid, entry.pw_gid)
    settings = {"user": "mlflow", "password": secrets.token_hex(12), "port": free_port()}
    password_file = folder / "password"
    password_file.write_text(settings["password"] + "\n")
    os.chown(password_file, entry.pw_uid, entry.pw_gid)
    bin_dir = postgres_bin()
    ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    run(
        [
            bin_dir / "initdb",
            "-D",
            folder / "data",
            "-U",
            settings["user"],
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
        ],
        timeout=180,
        cwd=folder,
        **ids,
    )
    server = processes.start(
        "postgres",
        [
            bin_dir / "postgres",
            "-D",
            folder / "data",
            "-h",
            "127.0.0.1",
            "-p",
            settings["port"],
            "-k",
            folder,
            # A throwaway database: no need to wait for the disk.
            "-c",
            "fsync=off",
        ],
        folder / "postgres.log",
        user="postgres",
        cwd=folder,
        stop_signal=signal.SIGINT,  # fast shutdown
    )

    def accepts_connections():
        connect_postgres(settings, timeout=5).close()
        return True

    wait_for(accepts_connections, "PostgreSQL", 60, server)
    return settings


def connect_postgres(settings, timeout):
    """A connection to the maintenance database of the throwaway PostgreSQL server."""
    import psycopg2

    return psycopg2.connect(
        host="127.0.0.1",
        port=settings["port"],
        user=settings["user"],
        password=settings["password"],
        dbname="postgres",
        connect_timeout=timeout,
    )


@contextlib.contextmanager
def local_cluster(root, time_limit=900):
    """A running single-node SLURM cluster and PostgreSQL, plus an ``mlflow server`` on
    database ``mlflow``; everything is stopped when the block ends. ``time_limit`` (s,
    from when the packages are there) bounds what runs on it (``Cluster.time_left``)."""
    ensure_python_packages()
    ensure_debian_packages()
    deadline = time.monotonic() + time_limit
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # munge and postgres run as their own users and need to enter it
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    processes = Processes()
    with contextlib.ExitStack() as stack:
        stack.callback(processes.stop_all)
        stack.callback(_remove_system_conf)
        munge_socket = _start_munge(processes, root)
        _start_slurm(processes, root, munge_socket, env)
        stack.callback(_cancel_jobs, env)
        postgres = _start_postgres(processes, root)
        cluster = Cluster(root, env, postgres, root / "artifacts", stack=stack, deadline=deadline)
        cluster.tracking_uri = cluster.start_tracking_server("mlflow", cluster.artifacts)
        yield cluster


def _remove_system_conf():
    with contextlib.suppress(OSError):
        if MARKER in SYSTEM_SLURM_CONF.read_text():
            SYSTEM_SLURM_CONF.unlink()
