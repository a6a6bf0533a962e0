"""Gymnasium wrappers that a policy's env spec may name beyond gymnasium's own, shared by trainer/ and client/.

A policy's model.json names every wrapper of its environment; the trainer builds the env from that list and
`client play` rebuilds it from the same list, so a wrapper the project writes itself must be importable by both.
This package imports neither of them.
"""

from game_wrappers.fire_on_life_start import FireOnLifeStart

__all__ = ["FireOnLifeStart"]
