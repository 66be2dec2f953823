"""A submission that starts processes meant to outlive its part: at import and in a call.

Each process carries ``MARKER`` on its command line so that a test can look for survivors.
One is a child in the worker's session; the other leaves it (double fork and ``setsid``).
"""

import os
import subprocess
import sys
import time

MARKER = "autograder-hostile-outlive-the-part"


def _spawn():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", MARKER])
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", MARKER])
        os._exit(0)
    time.sleep(0.1)


_spawn()


def scaled_dot_product_attention(query, key, value, mask=None, dropout_p=0.0):
    _spawn()
    return query, key
