"""A throw-away single-node SLURM cluster on localhost, for the SLURM test tier.

Everything (munge key and socket, slurm.conf, state, spool, logs) lives in one temporary
folder; nothing under /etc is read or written, so a system SLURM or munge, if any, is left
alone. The daemons run in the foreground as children of this process and are stopped by
PID. Needs root (slurmd launches the jobs) and the Debian 12 packages slurm-wlm, munge and
slurm-client (`make slurm-deps`, or `tests/slurm/install.sh`).

As a library (tests/workflow/test_slurm.py):

    cluster = LocalSlurm.start()          # raises ClusterUnavailable with the reason
    env = cluster.env()                   # os.environ + SLURM_CONF pointing at the cluster
    ...                                   # sbatch/squeue/snakemake --executor slurm
    cluster.stop()

By hand:

    python tests/slurm/localslurm.py start [DIR]   # prints `export SLURM_CONF=...`, keeps running
    SLURM_CONF=DIR/slurm.conf sinfo                 # in another shell
    Ctrl-C                                          # stops the daemons, keeps DIR
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PARTITION = "first1000"
CLIENTS = ("sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel", "sacct")
BINARIES = ("munged", "mungekey", "slurmctld", "slurmd", *CLIENTS)


class ClusterUnavailable(RuntimeError):
    """SLURM cannot run here; the message says why (for a pytest skip)."""


def missing_binaries() -> list[str]:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [name for name in BINARIES if shutil.which(name, path=path) is None]


def _which(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        raise ClusterUnavailable(f"`{name}` not found")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line() -> str:
    """`slurmd -C` describes this machine: NodeName=vm CPUs=2 ... RealMemory=24105."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, timeout=30)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("NodeName=")), None)
    if out.returncode != 0 or line is None:
        raise ClusterUnavailable(f"`slurmd -C` failed: {out.stderr.strip()[-500:]}")
    return line.strip()


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


class LocalSlurm:
    def __init__(self, base: Path):
        self.base = Path(base)
        self.conf = self.base / "slurm.conf"
        self.munge_dir = self.base / "munge"
        self.socket = self.munge_dir / "munge.socket.2"
        self.procs: dict[str, subprocess.Popen] = {}

    # ------------------------------------------------------------------ setup
    @classmethod
    def start(cls, base: Path | None = None, timeout: float = 60) -> "LocalSlurm":
        if os.geteuid() != 0:
            raise ClusterUnavailable("not root: slurmd must run as root to launch jobs")
        missing = missing_binaries()
        if missing:
            raise ClusterUnavailable(
                f"SLURM/munge not installed (missing {', '.join(missing)}); as root on Debian/Ubuntu: "
                "`make slurm-deps` (apt-get install slurm-wlm munge slurm-client)")
        try:
            pwd.getpwnam("munge")
        except KeyError:
            raise ClusterUnavailable("no `munge` user (is the munge package installed?)") from None
        if base is None:
            # short path under /tmp: slurmd puts unix sockets of job steps in its spool dir
            base = Path(tempfile.mkdtemp(prefix="f1k-slurm-", dir="/tmp"))
        cluster = cls(base)
        try:
            cluster._write_files()
            cluster._start_daemons(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _write_files(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)  # munged (user munge) must reach its own subfolder
        for sub in ("state", "spool", "log"):
            (self.base / sub).mkdir(exist_ok=True)
        munge = pwd.getpwnam("munge")
        self.munge_dir.mkdir(exist_ok=True)
        self.munge_dir.chmod(0o755)  # munged insists the socket folder is searchable by all
        os.chown(self.munge_dir, munge.pw_uid, munge.pw_gid)
        key = self.munge_dir / "munge.key"
        if not key.exists():  # a private key: the system's /etc/munge/munge.key is not touched
            made = subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}"],
                                  capture_output=True, text=True, timeout=30)
            if made.returncode != 0:
                key.write_bytes(os.urandom(1024))  # what `dd if=/dev/urandom bs=1 count=1024` does
            key.chmod(0o600)
            os.chown(key, munge.pw_uid, munge.pw_gid)

        host = socket.gethostname().split(".")[0]
        node = _node_line()
        nodename = node.split()[0].split("=", 1)[1]
        b = self.base
        self.nodename = nodename
        self.conf.write_text(f"""\
# Written by tests/slurm/localslurm.py: a one-node cluster on localhost.
ClusterName=first1000test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.socket}
StateSaveLocation={b}/state
SlurmdSpoolDir={b}/spool
SlurmctldPidFile={b}/slurmctld.pid
SlurmdPidFile={b}/slurmd.pid
SlurmctldLogFile={b}/log/slurmctld.log
SlurmdLogFile={b}/log/slurmd.log
# No accounting database: `sacct` cannot report jobs, so the executor plugin must query `squeue`
# (profiles/slurm-local: slurm-status-command: squeue); MinJobAge keeps finished jobs visible there.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
{node} NodeAddr=127.0.0.1 NodeHostname={host} State=UNKNOWN
# OverSubscribe=FORCE:2: each CPU may be allocated to two jobs at once. The test jobs are short and
# spend much of their time starting Python and Snakemake, and SLURM takes a second or two to start
# the next job on a freed CPU: with two per CPU the node's CPUs stay busy (about 15% faster).
PartitionName={PARTITION} Nodes={nodename} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:2
""")
        self._write_client_wrappers()

    def _write_client_wrappers(self) -> None:
        """bin/srun etc.: the client commands with SLURM_CONF set to this cluster.

        The jobs need them: snakemake-executor-plugin-slurm-jobstep (0.6) removes every SLURM_*
        variable, SLURM_CONF included, before it calls `srun` inside the job, and srun then looks
        for /etc/slurm/slurm.conf, which this cluster does not write (fails with "Could not
        establish a configuration source"). env() puts bin/ first on PATH, which sbatch exports
        to the jobs; a real cluster has its slurm.conf in /etc/slurm and needs no such thing."""
        bindir = self.base / "bin"
        bindir.mkdir(exist_ok=True)
        for name in CLIENTS:
            wrapper = bindir / name
            wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec "{_which(name)}" "$@"\n')
            wrapper.chmod(0o755)

    def _spawn(self, name: str, argv: list[str], **kwargs) -> None:
        log = open(self.base / "log" / f"{name}.out", "ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env(), start_new_session=True, **kwargs)
        log.close()

    def _check_alive(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            log = self.base / "log" / (f"{name}.log" if name.startswith("slurm") else f"{name}.out")
            raise ClusterUnavailable(
                f"{name} exited with code {proc.returncode}; last lines of {log}:\n{_tail(log)}\n"
                f"{_tail(self.base / 'log' / f'{name}.out')}")

    def _wait(self, what: str, ok, names, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in names:
                self._check_alive(name)
            if ok():
                return
            time.sleep(0.5)
        raise ClusterUnavailable(f"timed out after {timeout:.0f} s waiting for {what}; logs in {self.base / 'log'}")

    def _run(self, *argv, timeout=20) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, env=self.env())

    def _start_daemons(self, timeout: float) -> None:
        munge = pwd.getpwnam("munge")
        m = self.munge_dir
        self._spawn("munged", [_which("munged"), "--foreground", f"--socket={self.socket}",
                               f"--key-file={m / 'munge.key'}", f"--pid-file={m / 'munged.pid'}",
                               f"--log-file={m / 'munged.log'}", f"--seed-file={m / 'munged.seed'}"],
                    user=munge.pw_uid, group=munge.pw_gid, extra_groups=[])
        self._wait("munged", self.socket.exists, ["munged"], timeout)
        self._spawn("slurmctld", [_which("slurmctld"), "-D", "-c", "-f", str(self.conf)])
        self._wait("slurmctld", lambda: self._run("scontrol", "ping").returncode == 0 and
                   "UP" in self._run("scontrol", "ping").stdout, ["munged", "slurmctld"], timeout)
        self._spawn("slurmd", [_which("slurmd"), "-D", "-N", self.nodename, "-f", str(self.conf)])

        def node_idle():
            out = self._run("sinfo", "--noheader", "-o", "%T").stdout.split()
            return bool(out) and all(state.rstrip("*") in ("idle", "mixed", "allocated") for state in out)

        self._wait("the node to become idle", node_idle, ["munged", "slurmctld", "slurmd"], timeout)
        # A job must actually run (munge credentials, slurmstepd, srun) before the tier trusts the cluster.
        probe = self._run("srun", "-N1", "-n1", "-t", "1", "true", timeout=timeout)
        if probe.returncode != 0:
            raise ClusterUnavailable(
                f"a probe job failed: {probe.stderr.strip()[-800:]}\nslurmd log:\n{_tail(self.base / 'log/slurmd.log')}")

    # ------------------------------------------------------------------ use
    def env(self, base_env: dict | None = None) -> dict:
        env = dict(os.environ if base_env is None else base_env)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = f"{self.base / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    def finished_jobs(self) -> dict[str, int]:
        """Job ID -> exit status of every job that ended, from slurmctld's log (which, unlike
        squeue, keeps jobs older than MinJobAge)."""
        text = (self.base / "log" / "slurmctld.log").read_text(errors="replace")
        return {job: int(status) for job, status in re.findall(r"_job_complete: JobId=(\d+) WEXITSTATUS (\d+)", text)}

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{_tail(p)}" for p in sorted((self.base / "log").glob("*")))

    # ------------------------------------------------------------------ teardown
    def stop(self, remove: bool = False) -> None:
        """Cancel what is left in the queue, then stop slurmd, slurmctld and munged by PID."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                self._run("scancel", "--full", f"--partition={PARTITION}", timeout=20)
            except (OSError, subprocess.SubprocessError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) < 1 or argv[0] not in ("start", "check"):
        print(__doc__)
        return 2
    try:
        cluster = LocalSlurm.start(Path(argv[1]) if len(argv) > 1 else None)
    except ClusterUnavailable as exc:
        print(f"SLURM unavailable: {exc}", file=sys.stderr)
        return 1
    print(f"export SLURM_CONF={cluster.conf} PATH={cluster.base / 'bin'}:$PATH", flush=True)
    if argv[0] == "check":
        cluster.stop()
        print("ok: the cluster started, ran a probe job and stopped")
        return 0
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main(sys.argv[1:]))
