"""The course's modules, one per part; ``rubric.toml`` lists the parts and their points."""
