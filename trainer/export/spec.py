"""What a trainer hands to the export contract: its signatures and the facts that go into model.json."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from trainer.config import config_to_dict

PREDICT = "predict"
CLASSIFY = "classify"
METADATA_SIGNATURE = "metadata"
DEFAULT_SIGNATURE = "serving_default"


@dataclass(frozen=True)
class Signature:
    """One named serving signature.

    fn takes the inputs positionally, in the order of `inputs`, and returns a dict of named outputs.
    `inputs` are TensorSpecs whose names become the signature's input names (batch dimension None).
    `meanings` describes every input and output by name (a sentence, or a dict such as
    {"meaning": ..., "labels": [...]}); it goes into model.json. `warmup` is one example request
    (input name -> array) for `assets.extra/tf_serving_warmup_requests`; for the classify method it is
    {"inputs": array of serialized tf.train.Example}. `method` picks the warmup log type: PREDICT writes a
    predict_log, CLASSIFY a classify_log (TF Serving's Classify API: one string input `inputs`,
    outputs `classes` string [N, K] and/or `scores` float32 [N, K]).
    """

    name: str
    fn: Callable[..., Mapping[str, Any]]
    inputs: Sequence[tf.TensorSpec]
    meanings: Mapping[str, Any]
    warmup: Mapping[str, np.ndarray]
    method: str = PREDICT
    description: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """The facts about a trained model that model.json records besides its signatures.

    family is the contract's family (e.g. "image_classifier", "vae"): a model folder never mixes families.
    trainer names the job that made it (e.g. "vision classifier"); command is the exact argv; data holds
    the dataset id and split sizes; extra holds family-specific top-level fields (e.g. "labels").
    """

    name: str
    family: str
    trainer: str
    command: Sequence[str]
    config: Mapping[str, Any]
    data: Mapping[str, Any]
    metrics: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportResult:
    """Where an export landed, its version and the model.json it carries."""

    path: Path
    version: int
    model_json: dict[str, Any]


def job_model_info(
    config: Any,
    family: str,
    trainer: str,
    command: Sequence[str],
    data: Mapping[str, Any],
    metrics: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """The ModelInfo of a training job whose config dataclass carries `model_name`: name and config come from it."""
    return ModelInfo(
        name=config.model_name,
        family=family,
        trainer=trainer,
        command=command,
        config=config_to_dict(config),
        data=data,
        metrics=metrics,
        extra=extra or {},
    )
