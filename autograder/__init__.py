"""The course's tooling: rubric, checks runner, stubs, grader."""
