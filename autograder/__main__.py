"""``python -m autograder COMMAND``: see :mod:`autograder.apps`."""

import sys

from autograder.apps import main

sys.exit(main())
