"""The worker side of the isolated grader: the process that holds a student's modules.

- :mod:`.zygote`: a pristine process with torch imported, which forks the workers;
- :mod:`.serve`: what a worker does: shut itself in, then serve the grader's requests;
- :mod:`.isolation`: how it shuts itself in (namespaces, tmpfs, uid, limits).

Nothing here may import the reference or the checks: a worker's memory is the student's.
"""
