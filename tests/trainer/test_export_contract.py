"""The export contract on a tiny hand-made model: layout, atomicity, model.json, metadata and warmup."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer.errors import TrainerError
from trainer.export import layout
from trainer.export.contract import export_saved_model
from trainer.export.spec import CLASSIFY, ModelInfo, Signature
from trainer.export.warmup import read_warmup


@pytest.fixture(scope="module")
def tiny_model() -> keras.Model:
    values = keras.Input((4,), dtype="uint8", name="values")
    scores = keras.layers.Dense(2, activation="softmax")(keras.layers.Rescaling(1 / 255)(values))
    return keras.Model(values, scores)


def _serving_default(model: keras.Model, warmup: np.ndarray | None = None) -> Signature:
    return Signature(
        name="serving_default",
        fn=lambda values: {"scores": model(values, training=False)},
        inputs=[tf.TensorSpec([None, 4], tf.uint8, name="values")],
        meanings={"values": "four raw bytes", "scores": {"meaning": "class probabilities", "labels": ["a", "b"]}},
        warmup={"values": np.array([[0, 1, 2, 255]], np.uint8) if warmup is None else warmup},
    )


def _info(name: str = "tiny", family: str = "test_family") -> ModelInfo:
    return ModelInfo(
        name=name,
        family=family,
        trainer="tests tiny",
        command=["python", "-m", "trainer", "tests", "tiny"],
        config={"epochs": 1},
        data={"dataset": "none", "splits": {"train": 0}},
        metrics={"test_accuracy": 0.5},
    )


def _export(root, model, name="tiny", family="test_family", signatures=None):
    return export_saved_model(_info(name, family), signatures or [_serving_default(model)], root)


def _tree(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def test_versions_increment_and_no_temp_dir_remains(tmp_path, tiny_model):
    first = _export(tmp_path, tiny_model)
    second = _export(tmp_path, tiny_model)
    assert (first.version, second.version) == (1, 2)
    assert sorted(os.listdir(tmp_path / "tiny")) == ["1", "2"]
    assert (second.path / "saved_model.pb").is_file() and (second.path / layout.WARMUP_FILE).is_file()


def test_model_json_records_the_contract(tmp_path, tiny_model):
    result = _export(tmp_path, tiny_model)
    document = json.loads((result.path / layout.MODEL_JSON).read_text())
    assert document == result.model_json
    assert (document["name"], document["version"], document["family"]) == ("tiny", 1, "test_family")
    assert datetime.fromisoformat(document["created"]).utcoffset().total_seconds() == 0
    assert {"tensorflow", "keras", "python", "numpy"} <= set(document["framework"])
    assert "git_commit" in document and document["command"][:3] == ["python", "-m", "trainer"]
    assert document["config"] == {"epochs": 1} and document["data"]["dataset"] == "none"
    assert document["metrics"] == {"test_accuracy": 0.5}
    expected_input = {"dtype": "uint8", "shape": [None, 4], "meaning": "four raw bytes"}
    assert document["inputs"]["serving_default"]["values"] == expected_input
    assert document["outputs"]["serving_default"]["scores"]["labels"] == ["a", "b"]
    assert document["inputs"]["metadata"] == {}
    assert document["outputs"]["metadata"]["model_json"]["dtype"] == "string"
    assert document["signatures"]["serving_default"]["method"] == "predict"


def test_metadata_signature_returns_model_json(tmp_path, tiny_model):
    result = _export(tmp_path, tiny_model)
    loaded = tf.saved_model.load(str(result.path))
    served = loaded.signatures["metadata"]()["model_json"].numpy().decode()
    assert served == (result.path / layout.MODEL_JSON).read_text()


def test_warmup_has_one_matching_request_per_signature(tmp_path, tiny_model):
    result = _export(tmp_path, tiny_model)
    logs = read_warmup(result.path / layout.WARMUP_FILE)
    requests = {log.predict_log.request.model_spec.signature_name: log.predict_log.request for log in logs}
    assert sorted(requests) == ["metadata", "serving_default"] and len(logs) == 2
    assert all(log.WhichOneof("log_type") == "predict_log" for log in logs)
    loaded = tf.saved_model.load(str(result.path))
    for name, request in requests.items():
        specs = loaded.signatures[name].structured_input_signature[1]
        assert set(request.inputs) == set(specs)
        for key, proto in request.inputs.items():
            assert tf.dtypes.as_dtype(proto.dtype) == specs[key].dtype
    assert requests["serving_default"].model_spec.name == "tiny"


def test_failed_warmup_leaves_no_version_and_no_temp_dir(tmp_path, tiny_model):
    _export(tmp_path, tiny_model)
    before = _tree(tmp_path)
    wrong_dtype = _serving_default(tiny_model, warmup=np.zeros((1, 4), np.float32))
    with pytest.raises(TrainerError, match=r"warmup request for signature 'serving_default'.*float32"):
        _export(tmp_path, tiny_model, signatures=[wrong_dtype])
    assert _tree(tmp_path) == before


def test_failed_first_export_leaves_no_model_dir(tmp_path, tiny_model):
    wrong_shape = _serving_default(tiny_model, warmup=np.zeros((1, 3), np.uint8))
    with pytest.raises(TrainerError, match="does not match"):
        _export(tmp_path, tiny_model, signatures=[wrong_shape])
    assert _tree(tmp_path) == []


def test_classify_signature_must_take_serialized_examples(tmp_path, tiny_model):
    example = tf.train.Example().SerializeToString()
    misnamed = Signature(
        name="classify",
        fn=lambda examples: {"scores": tf.zeros([tf.shape(examples)[0], 2])},
        inputs=[tf.TensorSpec([None], tf.string, name="examples")],
        meanings={"examples": "tf.Examples", "scores": "zeros"},
        warmup={"inputs": np.array([example], dtype=object)},
        method=CLASSIFY,
    )
    with pytest.raises(TrainerError, match="one string input 'inputs'"):
        _export(tmp_path, tiny_model, signatures=[_serving_default(tiny_model), misnamed])
    assert _tree(tmp_path) == []


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "a..b", "..", "spaced name", "ünï"])
def test_unsafe_model_names_are_refused(tmp_path, tiny_model, name):
    with pytest.raises(TrainerError, match=r"must match \[A-Za-z0-9_.-\]\+"):
        _export(tmp_path / "root", tiny_model, name=name)
    assert not (tmp_path / "root").exists() and not (tmp_path / "escape").exists()


def test_other_family_in_the_model_dir_is_refused_untouched(tmp_path, tiny_model):
    first = _export(tmp_path, tiny_model, family="vae")
    before = {path: path.read_bytes() for path in first.path.rglob("*") if path.is_file()}
    with pytest.raises(TrainerError, match=r"version 1 of family 'vae', not 'test_family'"):
        _export(tmp_path, tiny_model, family="test_family")
    assert {path: path.read_bytes() for path in first.path.rglob("*") if path.is_file()} == before
    assert sorted(os.listdir(tmp_path / "tiny")) == ["1"]


def test_signatures_need_serving_default_and_leave_metadata_to_the_contract(tmp_path, tiny_model):
    renamed = dataclasses.replace(_serving_default(tiny_model), name="predict")
    with pytest.raises(ValueError, match="serving_default"):
        _export(tmp_path, tiny_model, signatures=[renamed])
    metadata = dataclasses.replace(_serving_default(tiny_model), name="metadata")
    with pytest.raises(ValueError, match="added by the contract"):
        _export(tmp_path, tiny_model, signatures=[_serving_default(tiny_model), metadata])


def test_every_tensor_needs_a_meaning(tmp_path, tiny_model):
    undescribed = dataclasses.replace(_serving_default(tiny_model), meanings={"values": "bytes"})
    with pytest.raises(ValueError, match="tensor 'scores' has no meaning"):
        _export(tmp_path, tiny_model, signatures=[undescribed])


def test_publish_refuses_a_version_that_appeared_meanwhile(tmp_path):
    temp_dir = layout.make_temp_dir(tmp_path / "model")
    (tmp_path / "model" / "1").mkdir()
    with pytest.raises(TrainerError, match="created by another export"):
        layout.publish(temp_dir, 1)


def test_next_version_parses_numbers_like_tf_serving(tmp_path):
    for name in ["1", "007", "10", "v11", ".tmp-12"]:
        (tmp_path / name).mkdir()
    assert layout.next_version(tmp_path) == 11


def test_every_weight_is_stored_once(tmp_path):
    values = keras.Input((4,), dtype="uint8", name="values")
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(3)(keras.layers.Rescaling(1 / 255)(values)))
    model = keras.Model(values, keras.layers.Dense(2, activation="softmax")(hidden))
    result = _export(tmp_path, model)
    checkpoint = tf.train.load_checkpoint(str(result.path / "variables" / "variables"))
    stored = [shape for key, shape in checkpoint.get_variable_to_shape_map().items() if key.endswith("VARIABLE_VALUE")]
    assert sum(int(np.prod(shape)) for shape in stored) == model.count_params()
