"""Soak runs of the reliability harness: steady load on two hubs and a worker for minutes or hours, faults in
rotation, a count of lost and duplicated at every checkpoint, and RSS/fd growth of each process.

`python -m tests.soak --minutes 60` (see `python -m tests.soak --help` and docs/reliability.md, "Soak runs").
"""
