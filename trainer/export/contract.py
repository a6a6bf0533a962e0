"""Write one export under the contract: `<export_root>/<name>/<version>/`, atomically, verified before publishing.

Every trainer calls `export_saved_model` with its signatures (see `trainer.export.spec.Signature`) and a
`ModelInfo`. The contract adds the `metadata` signature, `assets.extra/model.json` and the warmup file,
replays the warmup requests against the reloaded SavedModel, checks that `metadata` returns model.json,
and only then renames the hidden temp folder to the next version number.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from trainer.errors import TrainerError
from trainer.export import layout
from trainer.export.model_json import build_model_json
from trainer.export.tflite import write_tflite
from trainer.export.spec import (
    DEFAULT_SIGNATURE,
    METADATA_SIGNATURE,
    PREDICT,
    ExportResult,
    ModelInfo,
    Signature,
)
from trainer.export.warmup import replay_warmup, write_warmup

MODEL_JSON_MEANING = "the content of assets.extra/model.json: this model's contract, as a JSON string"


def metadata_signature(model_json_text: str) -> Signature:
    """The `metadata` signature: no input, returns `model_json` (scalar string), so clients need only the server."""
    return Signature(
        name=METADATA_SIGNATURE,
        fn=lambda: {"model_json": tf.constant(model_json_text)},
        inputs=(),
        meanings={"model_json": MODEL_JSON_MEANING},
        warmup={},
        method=PREDICT,
        description="The model's contract (model.json), for clients that can reach only the server.",
    )


def _check_signature_names(signatures: Sequence[Signature]) -> None:
    names = [signature.name for signature in signatures]
    if len(set(names)) != len(names):
        raise ValueError(f"signature names must be unique, got {names}")
    if DEFAULT_SIGNATURE not in names:
        raise ValueError(f"an export needs a '{DEFAULT_SIGNATURE}' signature, got {names}")
    if METADATA_SIGNATURE in names:
        raise ValueError(f"'{METADATA_SIGNATURE}' is added by the contract; do not pass it")


def _trace(signature: Signature) -> tf.types.experimental.GenericFunction:
    """A tf.function of signature.fn traced once for its input specs; its outputs must be a dict."""
    function = tf.function(signature.fn, input_signature=list(signature.inputs), autograph=False)
    outputs = function.get_concrete_function().structured_outputs
    if not isinstance(outputs, dict):
        raise ValueError(f"signature '{signature.name}' must return a dict of named outputs")
    return function


def _output_specs(function: tf.types.experimental.GenericFunction) -> dict[str, Any]:
    return dict(function.get_concrete_function().structured_outputs)


def _write(temp_dir: Path, functions: dict[str, Any], lookups: Sequence[Any], model_json_text: str) -> None:
    """Write the SavedModel of functions and model.json into temp_dir.

    Each endpoint brings the variables it captures; only lookups (layers or trackables holding lookup tables)
    are passed to `ExportArchive.track`. Tracking whole Keras models as well would store every weight twice
    (keras-team/keras#23553).
    """
    archive = keras.export.ExportArchive()
    for lookup in lookups:
        archive.track(lookup)
    for name, function in functions.items():
        archive.add_endpoint(name, function)
    archive.write_out(str(temp_dir), verbose=False)
    (temp_dir / layout.MODEL_JSON).parent.mkdir(exist_ok=True)
    (temp_dir / layout.MODEL_JSON).write_text(model_json_text)


def _verify(temp_dir: Path, model_json_text: str) -> None:
    """Reload the export, replay its warmup requests and check that `metadata` serves model.json."""
    loaded = tf.saved_model.load(str(temp_dir))
    results = replay_warmup(loaded, temp_dir / layout.WARMUP_FILE)
    served = results[METADATA_SIGNATURE]["model_json"].item().decode()
    if served != model_json_text:
        raise TrainerError(f"the '{METADATA_SIGNATURE}' signature of {temp_dir} does not return its model.json")


def export_saved_model(
    info: ModelInfo, signatures: Sequence[Signature], export_root: Path, lookups: Sequence[Any] = (),
    tflite: bool = False,
) -> ExportResult:
    """Export signatures (plus `metadata`) as the next version of model info.name under export_root.

    lookups: layers or trackables holding lookup tables that the signatures use (e.g. a StringLookup);
    models need not be passed, their variables are found through the signatures.
    tflite: also write `model.tflite` (serving_default converted by TF Lite) into the same version folder,
    before it is published, so the version appears with both or not at all.

    Raises TrainerError for a bad name, a folder of another family, or a warmup request that fails;
    on any failure the temp folder is removed and no version folder appears.
    """
    _check_signature_names(signatures)
    directory = layout.check_target(export_root, info.name, info.family)
    version = layout.next_version(directory)
    functions = {signature.name: _trace(signature) for signature in signatures}
    output_specs = {name: _output_specs(function) for name, function in functions.items()}
    output_specs[METADATA_SIGNATURE] = {"model_json": tf.TensorSpec([], tf.string)}
    # metadata's description does not depend on its text, so a placeholder describes it before the text exists
    document = build_model_json(info, version, [*signatures, metadata_signature("")], output_specs)
    text = json.dumps(document, indent=2) + "\n"
    metadata = metadata_signature(text)
    functions[METADATA_SIGNATURE] = _trace(metadata)
    temp_dir = layout.make_temp_dir(directory)
    try:
        _write(temp_dir, functions, lookups, text)
        write_warmup(temp_dir / layout.WARMUP_FILE, info.name, [*signatures, metadata])
        _verify(temp_dir, text)
        if tflite:
            write_tflite(temp_dir)
        path = layout.publish(temp_dir, version)
    except BaseException:
        layout.discard(temp_dir)
        raise
    return ExportResult(path=path, version=version, model_json=document)
