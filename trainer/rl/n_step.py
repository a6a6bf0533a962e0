"""n-step returns (Sutton 1988; Rainbow and Dopamine use n = 3): the pure arithmetic, apart from the replay buffer.

Given the rewards of n consecutive steps of one env stream from a sampled transition on, and where the
stream's episode ends, the target of Q(s_t, a_t) is G + d · max Q(s_{t+m}, ·), with
G = r_t + γ r_{t+1} + … + γ^{m-1} r_{t+m-1} and m ≤ n the steps taken before the episode ended. The
bootstrap discount d is γ^m, or 0 when step t+m-1 terminated the episode; a truncated episode (time
limit) still bootstraps, from its final observation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NStepReturns:
    """Per sampled transition: the discounted return G, the bootstrap discount d and the steps m it covers."""

    returns: np.ndarray
    discounts: np.ndarray
    steps: np.ndarray


def n_step_returns(rewards: np.ndarray, terminated: np.ndarray, continues: np.ndarray, gamma: float) -> NStepReturns:
    """Returns of a batch of n-step windows; all arrays are [batch, n], step t first.

    terminated[:, k]: step t+k ended the episode; continues[:, k]: the observation after step t+k was acted
    on (False where it is the final observation of a terminated or truncated episode).
    """
    batch, n = rewards.shape
    ends = terminated | ~continues
    within = np.ones((batch, n), bool)
    within[:, 1:] = np.cumprod(~ends[:, :-1], axis=1).astype(bool)
    powers = gamma ** np.arange(n, dtype=np.float64)
    returns = (rewards * within * powers).sum(axis=1)
    steps = within.sum(axis=1)
    terminal = np.take_along_axis(terminated, steps[:, None] - 1, axis=1)[:, 0]
    discounts = np.where(terminal, 0.0, gamma ** steps.astype(np.float64))
    return NStepReturns(returns.astype(np.float32), discounts.astype(np.float32), steps)
