"""The export of a DQN policy (export-contract.md, family `dqn_policy`).

`serving_default`: `observations` (uint8 [N,84,84,4] stacked Atari frames, channels last, or the env's float32
vector, e.g. [N,4] for CartPole) -> `q_values` float32 [N,A], `actions` int64 [N] (the greedy action) and
`action_meanings` string [N]. model.json's `data.env` is the evaluation environment as data (env id,
`gymnasium.make` keyword arguments, every wrapper with its parameters) and `data.observation_transpose`
the axes that turn one env observation into one network input, so a client rebuilds exactly this env.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from trainer.export.spec import DEFAULT_SIGNATURE, ModelInfo, Signature, job_model_info
from trainer.rl.checkpoint import TrainingState
from trainer.rl.dqn_config import DQNConfig
from trainer.rl.dqn_world import World
from trainer.rl.envs import is_atari, training_reward_wrappers
from trainer.rl.evaluation import Evaluation

FAMILY = "dqn_policy"
TRAINER = "rl dqn"


def policy_signature(model: keras.Model, action_meanings: Sequence[str], warmup_observations: np.ndarray) -> Signature:
    """observations -> q_values, actions (argmax) and their names; the names live in the graph."""
    names = tf.constant(list(action_meanings))

    def serve(observations: tf.Tensor) -> dict[str, tf.Tensor]:
        q_values = model(observations, training=False)
        actions = tf.argmax(q_values, axis=-1, output_type=tf.int64)
        return {"q_values": q_values, "actions": actions, "action_meanings": tf.gather(names, actions)}

    dtype = tf.as_dtype(warmup_observations.dtype)
    if dtype == tf.uint8:
        observation_meaning = "stacked grey frames, uint8 0..255, oldest first along the last axis; scaled in the graph"
    else:
        observation_meaning = "the environment's observation vector, float32, as gymnasium returns it"
    labels = list(action_meanings)
    return Signature(
        name=DEFAULT_SIGNATURE,
        fn=serve,
        inputs=[tf.TensorSpec([None, *warmup_observations.shape[1:]], dtype, name="observations")],
        meanings={
            "observations": observation_meaning,
            "q_values": {"meaning": "estimated discounted return of each action, in the order of labels", "labels": labels},
            "actions": {"meaning": "index of the greedy action (the one to play)", "labels": labels},
            "action_meanings": {"meaning": "name of the greedy action", "labels": labels},
        },
        warmup={"observations": warmup_observations},
        description="Q-values of every action for a batch of observations, and the greedy action.",
    )


def policy_info(config: DQNConfig, command: Sequence[str], world: World, evaluation: Evaluation, env_steps: int,
                state: TrainingState) -> ModelInfo:
    """model.json's facts: the env as data (for play), the training-only wrappers and record, and the evaluation.

    env_steps is the step the exported weights come from; the record covers the whole run (its evaluations
    as [step, mean return], its wall time summed over resumes, its updates).
    """
    env, action_meanings = world.eval_spec, world.action_meanings
    setting = "sticky actions p=%g" % config.repeat_action_probability if is_atari(env["id"]) else None
    return job_model_info(
        config,
        FAMILY,
        TRAINER,
        command,
        data={
            "env_id": env["id"],
            "env": env,
            "observation_transpose": world.transpose,
            "training": {
                "wrappers": world.train_spec["wrappers"],
                "vector_wrappers": training_reward_wrappers(config),
                "num_envs": config.num_envs,
                "env_steps": env_steps,
                "replay_capacity": config.buffer_size,
                "run_steps": state.step,
                "updates": state.updates,
                "wall_seconds": round(state.seconds, 1),
                "steps_per_second": round(state.step / state.seconds, 1) if state.seconds else None,
                "evaluations": [[step, mean_return] for step, mean_return in state.evaluations],
            },
        },
        metrics={**evaluation.as_metrics(), "env_steps": env_steps, "env_setting": setting},
        extra={"action_meanings": list(action_meanings)},
    )
