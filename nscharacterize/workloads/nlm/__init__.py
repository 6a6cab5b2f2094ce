"""Neural Logic Machines (Dong et al., 2019): sort, shortest path and blocks world policies.

Re-implemented from scratch after ``google/neural-logic-machines``: the NLM layer stack
(:mod:`.layers`), the three policy networks (:mod:`.models`), the environments (:mod:`.envs`) and
the greedy evaluation episodes as workloads (:mod:`.workload`).
"""
from .workload import BLOCKSWORLD, PATH, SORT, Episode, NLMEpisodes, Trace, build_nlm

__all__ = ["SORT", "PATH", "BLOCKSWORLD", "Episode", "Trace", "NLMEpisodes", "build_nlm"]
