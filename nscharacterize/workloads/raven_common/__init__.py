"""RAVEN-style progressive matrices, generated locally: the shared data of NVSA and PrAE.

A matrix is 3x3 panels; each panel holds one object (RAVEN's "center single" constellation) whose
attributes (type, size, colour) follow one rule per attribute along every row (constant,
progression, arithmetic, distribute three, the four rules of RAVEN). The ninth panel is missing;
eight candidate answers differ from the right one in one attribute each, as RAVEN's answer sets do.
:mod:`.matrices` draws the attribute values, :mod:`.panels` draws the panels as grey images.
"""
from .matrices import ATTRIBUTES, RULES, Matrix, attribute_sizes, make_matrix
from .panels import render_matrix
from .samples import raven_samples

__all__ = ["ATTRIBUTES", "RULES", "Matrix", "attribute_sizes", "make_matrix", "render_matrix", "raven_samples"]
