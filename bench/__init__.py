"""Benchmarks of sparkrig against GNU parallel, `xargs -P` and the schedule's lower bound.

`bench/run.py` is the entry point (`invoke bench [--quick]`). The modules beside
it split the work by concern:

- `schedule`: the pure arithmetic (lower bound, list-schedule simulation,
  run phases, summary statistics);
- `workloads`: the scenario files and synthetic results;
- `peers`: one command line run under a time limit;
- `rss`: memory samples of a process tree;
- `measure_*`: one measure each, returning table rows;
- `table`: the rows, the machine description and the Markdown page.
"""
