"""The replica load comparison's CPU accounting (bench/replica_load.py)."""

import os
import subprocess
import sys

from bench.replica_load import ServerCpu, _children_cpu


def test_children_cpu_counts_the_parent_and_its_children_only():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        found = _children_cpu(os.getpid())
        assert os.getpid() in found and child.pid in found
        assert os.getppid() not in found  # our parent is not a child of ours
        assert all(seconds >= 0 for seconds in found.values())
    finally:
        child.kill()
        child.wait()


def test_a_child_that_exits_during_the_step_still_counts(tmp_path):
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n")
    sampler = ServerCpu(tmp_path)
    # A child burning about 0.6 s of CPU, then gone before the step ends.
    code = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\ntime.sleep(0.8)"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert sampler.seconds() >= 0.5
