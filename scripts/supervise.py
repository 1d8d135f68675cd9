#!/usr/bin/env python3
"""Run every process of a Procfile and keep it running: what `make run` uses.

Unlike honcho (which stops everything when one process exits), a process that dies is
started again after a backoff (1 s, doubling up to 30 s; back to 1 s once it has stayed up a
minute), and the others keep running. Ctrl-C (SIGINT) or SIGTERM stops all of them: each
gets SIGTERM, and SIGKILL after 10 s.

    scripts/supervise.py [-f Procfile]

Each line of output is prefixed with the process name and the time, as honcho did. A
Procfile line is ``name: command``; the command runs through ``/bin/sh``, so ``${VAR:-x}``
works.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BACKOFF_MIN = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0
STOP_GRACE = 10.0


@dataclass
class Child:
    name: str
    command: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_MIN
    restart_at: float | None = None
    restarts: int = 0
    pumps: list[threading.Thread] = field(default_factory=list)


def read_procfile(path: Path) -> list[Child]:
    children = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise SystemExit(f"{path}:{number}: expected 'name: command', got {line!r}")
        children.append(Child(name=name.strip(), command=command.strip()))
    if not children:
        raise SystemExit(f"{path} names no process")
    return children


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.width = max(len(child.name) for child in children)
        self.stopping = False
        self.lock = threading.Lock()

    def say(self, name: str, text: str) -> None:
        with self.lock:
            sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name.ljust(self.width)} | {text}\n")
            sys.stdout.flush()

    def _pump(self, child: Child, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(child.name, raw.decode(errors="replace").rstrip("\n"))
        stream.close()

    def start(self, child: Child) -> None:
        # A session of its own: signals reach the process and its children (runserver's
        # reloader, Celery's pool) but a Ctrl-C in the terminal reaches only this supervisor.
        child.process = subprocess.Popen(  # noqa: S603  (the commands come from the project's own Procfile)
            ["/bin/sh", "-c", f"exec {child.command}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        pump = threading.Thread(target=self._pump, args=(child, child.process.stdout), daemon=True)
        pump.start()
        child.pumps = [pump]
        self.say("supervisor", f"started {child.name} (pid {child.process.pid})")

    def check(self, child: Child) -> None:
        now = time.monotonic()
        if child.process is None:
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self.start(child)
            return
        code = child.process.poll()
        if code is None:
            if now - child.started_at >= STABLE_AFTER:
                child.backoff = BACKOFF_MIN
            return
        for pump in child.pumps:
            pump.join(timeout=1)
        if now - child.started_at >= STABLE_AFTER:
            child.backoff = BACKOFF_MIN
        self.say("supervisor", f"{child.name} exited with {code}; restarting in {child.backoff:.0f} s")
        child.process = None
        child.restart_at = now + child.backoff
        child.backoff = min(child.backoff * 2, BACKOFF_MAX)

    def _signal_all(self, sig: int) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, sig)

    def stop(self) -> None:
        self.stopping = True
        self.say("supervisor", "stopping every process")
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            if all(child.process is None or child.process.poll() is not None for child in self.children):
                break
            time.sleep(0.1)
        self._signal_all(signal.SIGKILL)
        for child in self.children:
            if child.process is not None:
                child.process.wait()

    def run(self) -> int:
        # Ctrl-C and SIGTERM only ask the loop to stop: an exception raised wherever the main
        # thread happens to be (starting a child, writing a log line) could leave a child
        # unrecorded or a lock held, and the supervisor would then never exit.
        requested: list[int] = []

        def on_signal(signum, frame):
            requested.append(signum)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            for child in self.children:
                if not requested:
                    self.start(child)
            while not requested:
                for child in self.children:
                    self.check(child)
                time.sleep(0.2)
        finally:
            self.stop()
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--procfile", default="Procfile", type=Path)
    args = parser.parse_args()
    return Supervisor(read_procfile(args.procfile)).run()


if __name__ == "__main__":
    sys.exit(main())
