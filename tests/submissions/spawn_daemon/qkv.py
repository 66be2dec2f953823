"""A submission that starts processes meant to outlive it (one in a new session)."""

import os
import subprocess
import sys
import time


def spawn():
    """Start a child in the process group and a double-forked daemon; return their pids."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    read, write = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            time.sleep(600)
        os._exit(0)
    daemon = int(os.read(read, 32))
    return [child.pid, daemon]
