"""scripts/supervise.py, which `make run` uses: a process that dies is restarted and the
others keep running; Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from crm.tests.processes import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited too.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_a_dead_process_is_restarted_and_ctrl_c_stops_everything(tmp_path):
    procfile = tmp_path / "Procfile"
    steady_pid = tmp_path / "steady.pid"
    procfile.write_text(
        f"steady: sh -c 'echo $$ > {steady_pid}; exec sleep 600'\n"
        f"crashy: sh -c 'echo started >> {tmp_path}/crashy.log; exit 3'\n"
    )
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        supervisor = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "supervise.py"), "-f", str(procfile)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(steady_pid.exists, timeout=10, what="the steady process")
        crashy_log = tmp_path / "crashy.log"
        # Started, died, restarted after 1 s, died, restarted after 2 s: three runs.
        wait_until(
            lambda: crashy_log.exists() and crashy_log.read_text().count("started") >= 3,
            timeout=20,
            what="the crashing process to be restarted twice",
        )
        pid = int(steady_pid.read_text())
        assert _alive(pid), "the steady process was stopped when the other one died"
        assert supervisor.poll() is None
        assert "crashy exited with 3; restarting in 1 s" in log.read_text()

        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=20) == 0
        wait_until(lambda: not _alive(pid), timeout=10, what="the steady process to stop")
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
