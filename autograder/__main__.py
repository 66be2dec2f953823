"""``python -m autograder COMMAND``: see :mod:`autograder.apps`."""

import sys

if sys.argv[1:2] == ["grade"]:
    # The zygote (a Python with torch imported, which forks the sandboxed workers) starts
    # before the command line's own imports: on two cores the two start-ups overlap.
    from autograder.grader import spawner

    spawner.start()

from autograder.apps import main

sys.exit(main())
