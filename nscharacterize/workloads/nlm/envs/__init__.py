"""The three NLM environments, written from scratch in numpy and plain Python.

Each environment draws every random number from the ``numpy.random.RandomState`` it is given, so
an episode is reproducible from its seed; all three share the small interface of
:class:`~.base.Env`: ``restart()``, ``observe()`` (what the policy sees at the current step),
``action(index) -> (reward, done)``, and ``mapping`` (action index -> move) where moves are pairs.
"""
from .base import Env, pair_mapping
from .blocksworld import BlocksWorld, BlocksWorldEnv, random_world
from .graph import Graph, PathEnv, random_graph_dnc, random_graph_er
from .sort import SortEnv

__all__ = ["Env", "pair_mapping", "SortEnv", "Graph", "PathEnv", "random_graph_dnc", "random_graph_er",
           "BlocksWorld", "BlocksWorldEnv", "random_world"]
