"""Benchmarks of sparkrig against GNU parallel, `xargs -P` and the schedule's lower bound.

`bench/run.py` is the entry point (`invoke bench [--quick]`). The modules beside
it split the work by concern: `schedule` contains the pure arithmetic (lower
bound, list-schedule simulation, summary statistics), `workloads` writes the
scenario files, `peers` runs one command line under a time limit, `rss` samples
a process tree's memory, the `measure_*` modules each produce table rows, and
`table` renders the rows and the machine description.
"""
