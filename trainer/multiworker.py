"""Multi-worker training (`--distribute multiworker`): who does what, where each worker writes, and a Keras fix.

Every worker runs the same command with its own TF_CONFIG. MultiWorkerMirroredStrategy keeps one replica per
worker and all-reduces the gradients of every step over gRPC, so all workers hold the same weights. Only the
chief (task `chief`, or `worker` 0 when the cluster has no chief) evaluates and exports; the other workers
keep their logs and checkpoints under `<run_dir>/workers/<task>-<index>`, because two processes must not
write one file. The chief's run dir is the job's state: when a worker dies, the survivors fail too (their
collective ops lose a peer), and every worker restarted with its command resumes from the chief's
BackupAndRestore state, copied over at start, so all replicas restart from the same epoch and weights.
Sharing that state needs `--run-dir` on a filesystem every worker reaches (here: one machine).

Keras 3's `fit` does not run under MultiWorkerMirroredStrategy as released (keras-team/keras#20585): it
builds the model from a batch it all-reduces across workers, and it averages each step's scalar metrics
along axis 0, which a scalar does not have. `enable_keras_multiworker` replaces those two steps: the model
is built from this worker's shard of the batch (building needs shapes only), and scalars are averaged with
`axis=None`. Both are private Keras functions, so a Keras without them is refused with a clear error.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from trainer.errors import TrainerError

WORKERS_DIR = "workers"
CHIEF_STATE = ("backup", "checkpoints")
"""The parts of a run dir a resumed worker takes from the chief: BackupAndRestore and the best epoch."""


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in the cluster: its task, its index and whether it is the chief."""

    task_type: str
    task_id: int
    workers: int
    is_chief: bool

    @property
    def name(self) -> str:
        return f"{self.task_type}-{self.task_id}"


def worker_role(strategy: tf.distribute.Strategy) -> WorkerRole | None:
    """The role TF_CONFIG gives this process under MultiWorkerMirroredStrategy; None under other strategies."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    resolver = strategy.cluster_resolver
    jobs = resolver.cluster_spec().as_dict()
    task_type, task_id = resolver.task_type or "worker", int(resolver.task_id or 0)
    has_chief = "chief" in jobs
    is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    workers = sum(len(jobs.get(job, ())) for job in ("chief", "worker")) or 1
    return WorkerRole(task_type, task_id, workers, is_chief)


def worker_run_dir(run_dir: Path, role: WorkerRole | None) -> Path:
    """Where this worker writes its logs and checkpoints: the run dir itself for the chief or a lone job."""
    if role is None or role.is_chief:
        return run_dir
    return run_dir / WORKERS_DIR / role.name


def take_chief_state(chief_dir: Path, worker_dir: Path) -> None:
    """Make a worker's resume state the chief's: copy it when the chief has a backup, else start afresh.

    Called before training starts, when the chief cannot be writing: it waits for this worker's first step.
    """
    resuming = (chief_dir / "backup").is_dir()
    for part in CHIEF_STATE:
        shutil.rmtree(worker_dir / part, ignore_errors=True)
        if resuming and (chief_dir / part).is_dir():
            shutil.copytree(chief_dir / part, worker_dir / part)


def enable_keras_multiworker() -> None:
    """Let Keras 3's `fit` run under MultiWorkerMirroredStrategy (see the module docstring); idempotent."""
    try:
        from keras.src.backend.tensorflow import trainer as keras_trainer

        trainer_cls = keras_trainer.TensorFlowTrainer
        reduce_per_replica = keras_trainer.reduce_per_replica
        is_multi_worker = keras_trainer._collective_all_reduce_multi_worker
        if not hasattr(trainer_cls, "_symbolic_build"):  # what the replacement build calls
            raise AttributeError("TensorFlowTrainer has no _symbolic_build")
    except (ImportError, AttributeError) as error:
        raise TrainerError(f"--distribute multiworker: this Keras version lacks what it needs ({error})") from error
    if getattr(reduce_per_replica, "multiworker_scalars", False):
        return
    keras_trainer.reduce_per_replica = _scalar_mean(reduce_per_replica, is_multi_worker)
    trainer_cls._maybe_symbolic_build = _local_symbolic_build


def _scalar_mean(reduce_per_replica: Callable[..., Any], is_multi_worker: Callable[[Any], bool]) -> Callable[..., Any]:
    """Keras's reduce_per_replica, but a multi-worker mean over scalars (a step's metrics) without an axis."""

    def reduce(values: Any, strategy: tf.distribute.Strategy, reduction: str) -> Any:
        if reduction not in ("auto", "mean") or not is_multi_worker(strategy):
            return reduce_per_replica(values, strategy, reduction)
        return tf.nest.map_structure(
            lambda value: strategy.reduce("MEAN", value, axis=None)
            if isinstance(value, tf.distribute.DistributedValues) else value,
            values,
        )

    reduce.multiworker_scalars = True  # type: ignore[attr-defined]
    return reduce


def _local_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
    """Build the model from this worker's part of the first batch, not from a mean over all workers."""
    if self._distribute_strategy is None:
        return
    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = tf.nest.map_structure(_local_part(self.distribute_strategy), next(batches))
            break
    with self.distribute_strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def _local_part(strategy: tf.distribute.Strategy) -> Callable[[Any], Any]:
    def first_local(value: Any) -> Any:
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    return first_local


class AverageWorkerStatistics(keras.callbacks.Callback):
    """When training ends, every worker replaces its float non-trainable weights by their mean over the workers.

    Gradients are all-reduced at every step, so the trainable weights agree already; Keras 3's batch-norm
    moving statistics are updated from each worker's own shard of the batch, and so differ. Their mean is what
    a single replica over the whole batches would approximate, and it leaves every worker, the chief whose
    model is exported included, with identical weights. List it after the callback that restores the best epoch.
    """

    def __init__(self, strategy: tf.distribute.Strategy) -> None:
        super().__init__()
        self._strategy = strategy

    def on_train_end(self, logs: dict | None = None) -> None:
        variables = [variable for variable in self.model.non_trainable_variables if "float" in str(variable.dtype)]
        if not variables:
            return
        means = self._mean_over_workers([tf.constant(variable.numpy()) for variable in variables])
        for variable, mean in zip(variables, self._strategy.experimental_local_results(means)[0]):
            variable.assign(mean)

    @tf.function
    def _mean_over_workers(self, values: list[tf.Tensor]) -> Any:
        def replica_mean(values: list[tf.Tensor]) -> list[tf.Tensor]:
            placed = [tf.identity(value) for value in values]  # on this replica's device, where all_reduce runs
            return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, placed)

        return self._strategy.run(replica_mean, args=(values,))
