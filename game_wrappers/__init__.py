"""Gymnasium wrappers an env spec may name, shared by trainer/ and client/.

A policy's model.json names every wrapper of its environment; the trainer builds the env from that list and
`client play` rebuilds it from the same list with the same table (`registry`), which also holds the wrappers
the project writes itself. This package imports neither of them.
"""

from game_wrappers.fire_on_life_start import FireOnLifeStart
from game_wrappers.registry import WRAPPERS, apply_wrappers, unknown_wrappers

__all__ = ["WRAPPERS", "FireOnLifeStart", "apply_wrappers", "unknown_wrappers"]
