"""pytest finds the course's plugin (``--impl``, the part fixtures, the score) from here.

The plugin itself is :mod:`autograder.core.plugin`, which ships to students with the rest
of ``autograder/core``.
"""

pytest_plugins = ["autograder.core.plugin"]
