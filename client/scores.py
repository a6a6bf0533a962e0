"""Which output of a signature holds class probabilities, so commands can rank and score classes."""

from __future__ import annotations

import numpy as np

from client.messages import SignatureSpec

PROBABILITY_OUTPUTS = ("probabilities", "scores")
"""Outputs read as class probabilities, in this order of preference, when a model has several float outputs."""


def probability_output(spec: SignatureSpec, outputs: dict[str, np.ndarray]) -> str | None:
    """The [N,K] float output holding class probabilities, if the signature has a clear one."""
    candidates = [
        alias for alias, array in outputs.items() if array.ndim == 2 and spec.outputs[alias].dtype.is_floating
    ]
    preferred = [alias for alias in PROBABILITY_OUTPUTS if alias in candidates]
    if preferred:
        return preferred[0]
    return candidates[0] if len(candidates) == 1 else None
