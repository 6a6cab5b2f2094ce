"""The regression gate: compares saved run directories and decides whether a change regressed.

The last stage of the one-way flow (config -> workload -> profiler -> events -> taxonomy ->
attribution -> reports / gate). It reads run directories only, through ``reports.store.RunDir``,
and never runs a profiler itself except through the CLI, in A/B rounds. One module per job:

- ``settings``  the thresholds (``CompareSettings``) and where each value came from
- ``runs``      opening a run directory for the gate (what the gate needs beyond the store's checks)
- ``samples``   reshaping samples.csv into per-sample series per (workload, component, axis, category)
- ``stats``     significance tests, the noise band, step detection
- ``envdiff``   fingerprint and config differences between two runs
- ``verdicts``  one row's verdict, the round check, the ``Comparison`` and its exit code
- ``compare``   ``compare_runs``: the above, in order, for two run directories
- ``formats``   a Comparison as a terminal table, Markdown or JSON
- ``history``   the SQLite history of runs; ``trend`` renders it (text, plot)
- ``baselines`` named baselines in a folder a repository can commit
- ``abrun``     same-job interleaved A/B rounds; ``refs`` runs a git ref's own code; ``git`` the git calls
- ``errors``    ``CompareError``, the gate's ``UserError``

The CLI layer (``nscharacterize/gate_cli.py``) only parses arguments and calls these.
See docs/architecture.md.
"""
