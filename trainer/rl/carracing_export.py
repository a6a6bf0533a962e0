"""The export of a CarRacing driver (export-contract.md, family `carracing_driver`).

`serving_default`: `frames` uint8 [N, 96, 96, 3 * stack] -> `action_probs` float32 [N, 5], `actions` int64 [N].
model.json's `data.env` is the env as data (id, `gymnasium.make` kwargs with continuous=False, wrappers:
FrameStackObservation when stacking), `data.observation_transpose` and `data.observation_shape` turn one
stacked observation [stack, 96, 96, 3] into one network input [96, 96, 3 * stack], and `action_meanings`
names the five actions, so a client can drive with no project code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainer.export.spec import DEFAULT_SIGNATURE, ModelInfo, Signature, job_model_info
from trainer.rl.carracing_config import ACTION_MEANINGS, TrainConfig
from trainer.rl.carracing_policy import input_shape
from trainer.rl.carracing_rollout import env_spec

FAMILY = "carracing_driver"
TRAINER = "rl carracing-train"
STACK_TRANSPOSE = [1, 2, 0, 3]  # [stack, H, W, 3] -> [H, W, stack, 3], then reshaped to [H, W, 3 * stack]


def driver_signature(model: keras.Model, frame_stack: int, warmup_frames: np.ndarray) -> Signature:
    """frames -> action_probs, actions (the most probable action)."""

    def serve(frames: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = model(frames, training=False)
        return {"action_probs": probabilities, "actions": tf.argmax(probabilities, axis=-1, output_type=tf.int64)}

    labels = list(ACTION_MEANINGS)
    frames_meaning = (
        f"CarRacing-v3 observations, uint8 RGB 0..255; {frame_stack} frame(s) concatenated on the channel axis, "
        "oldest first, the first frame repeated at an episode's start; scaled in the graph"
    )
    return Signature(
        name=DEFAULT_SIGNATURE,
        fn=serve,
        inputs=[tf.TensorSpec([None, *input_shape(frame_stack)], tf.uint8, name="frames")],
        meanings={
            "frames": frames_meaning,
            "action_probs": {"meaning": "probability of each discrete action, in the order of labels", "labels": labels},
            "actions": {"meaning": "the most probable action: the one to take", "labels": labels},
        },
        warmup={"frames": warmup_frames},
        description="The cloned driver: action probabilities for a batch of frames, and the action to take.",
    )


def observation_layout(frame_stack: int) -> dict[str, Any]:
    """How one env observation becomes one network input (None: as it comes)."""
    if frame_stack == 1:
        return {"observation_transpose": None, "observation_shape": list(input_shape(1))}
    return {"observation_transpose": STACK_TRANSPOSE, "observation_shape": list(input_shape(frame_stack))}


def driver_info(
    config: TrainConfig, command: Sequence[str], data: Mapping[str, Any], metrics: Mapping[str, Any]
) -> ModelInfo:
    """model.json's facts: the env as data (for play), the demonstrations used, and the evaluation."""
    env = env_spec(config.frame_stack)
    return job_model_info(
        config,
        FAMILY,
        TRAINER,
        command,
        data={"env_id": env["id"], "env": env, **observation_layout(config.frame_stack), **data},
        metrics=dict(metrics),
        extra={"action_meanings": list(ACTION_MEANINGS), "frame_stack": config.frame_stack},
    )
