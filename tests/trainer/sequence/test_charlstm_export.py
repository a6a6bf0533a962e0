"""The exported char-LSTM: its signatures, reproducible generation, `step` = `serving_default`, `score` = loss."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from charlstm_fixtures import MAX_LENGTH

from trainer.export import layout

STATES = ("h_1", "c_1", "h_2", "c_2")


def generate(loaded, prompts, lengths, temperatures, seeds) -> list[str]:
    outputs = loaded.signatures["serving_default"](
        prompt=tf.constant(prompts), length=tf.constant(lengths, tf.int32),
        temperature=tf.constant(temperatures, tf.float32), seed=tf.constant(seeds, tf.int64),
    )
    return [text.decode("utf-8") for text in outputs["text"].numpy()]


def stream(loaded, prompt: str, length: int, temperature: float, seed: int) -> str:
    """The client's streaming loop, on the reloaded SavedModel: encode, then one `step` per character."""
    encoded = loaded.signatures["encode"](text=tf.constant([prompt]))
    char_ids = encoded["char_ids"]
    states = {name: tf.zeros([1, 32]) for name in STATES}
    text = ""
    for position in range(length):
        outputs = loaded.signatures["step"](
            char_ids=char_ids, **states, temperature=tf.constant([temperature]), seed=tf.constant([seed], tf.int64),
            position=tf.constant([position], tf.int64),
        )
        states = {name: outputs[name] for name in STATES}
        char_ids = outputs["next_ids"][:, None]
        text += outputs["next_chars"].numpy()[0].decode("utf-8")
    return text


def test_export_has_the_contract_signatures(tiny_charlstm):
    signatures = tiny_charlstm.loaded.signatures
    assert set(signatures) == {"serving_default", "step", "encode", "score", "metadata"}
    inputs = {name: (spec.dtype, spec.shape.as_list())
              for name, spec in signatures["serving_default"].structured_input_signature[1].items()}
    assert inputs == {"prompt": (tf.string, [None]), "length": (tf.int32, [None]),
                      "temperature": (tf.float32, [None]), "seed": (tf.int64, [None])}
    assert signatures["score"].structured_outputs["bits_per_char"].dtype == tf.float32
    step_outputs = signatures["step"].structured_outputs
    assert {name: step_outputs[name].shape.as_list() for name in STATES} == {name: [None, 32] for name in STATES}


def test_model_json_holds_the_charset_states_and_bpc(tiny_charlstm):
    document = json.loads((tiny_charlstm.result.export.path / layout.MODEL_JSON).read_text())
    assert document["family"] == "char_lstm" and document["command"] == ["test"]
    assert "".join(document["charset"]) == "".join(sorted(set(tiny_charlstm.result.vocabulary.charset)))
    assert "é" in document["charset"]
    assert document["state"] == [{"name": name, "size": 32} for name in STATES]
    assert document["metrics"]["validation_bits_per_char"] == pytest.approx(tiny_charlstm.result.validation_bpc)


def test_generation_is_reproducible_per_seed_and_respects_each_length(tiny_charlstm):
    loaded = tiny_charlstm.loaded
    first = generate(loaded, ["the cat", "a dog"], [25, 7], [1.0, 1.0], [3, 3])
    assert first == generate(loaded, ["the cat", "a dog"], [25, 7], [1.0, 1.0], [3, 3])
    assert [len(text) for text in first] == [25, 7]
    others = generate(loaded, ["the cat"] * 3, [25] * 3, [1.0] * 3, [4, 5, 6])
    assert len(set(others + first[:1])) > 1


def test_a_row_does_not_depend_on_the_rest_of_its_batch(tiny_charlstm):
    loaded = tiny_charlstm.loaded
    alone = generate(loaded, ["a dog"], [15], [0.8], [9])
    batched = generate(loaded, ["the cat sat", "a dog", "n"], [30, 15, 5], [1.0, 0.8, 2.0], [1, 9, 2])
    assert batched[1] == alone[0]


@pytest.mark.parametrize("prompt", ["the cat", "café ☕ ünseen"])
def test_step_repeated_gives_the_text_of_serving_default(tiny_charlstm, prompt):
    loaded = tiny_charlstm.loaded
    assert stream(loaded, prompt, 30, 1.0, 11) == generate(loaded, [prompt], [30], [1.0], [11])[0]


def test_score_agrees_with_the_training_loss(tiny_charlstm):
    text = "the cat sat on a mat and café"
    ids = tiny_charlstm.result.vocabulary.encode(text)[None]
    loss = tiny_charlstm.result.model.evaluate(ids[:, :-1], ids[:, 1:], verbose=0, return_dict=True)
    bits = tiny_charlstm.loaded.signatures["score"](text=tf.constant([text, text + " ran far"]))["bits_per_char"]
    assert bits.numpy()[0] == pytest.approx(loss["bpc"], rel=1e-4)
    assert bits.numpy()[0] == pytest.approx(loss["loss"] / np.log(2), rel=1e-4)


def test_unicode_prompts_and_unseen_characters_are_handled(tiny_charlstm):
    loaded = tiny_charlstm.loaded
    texts = generate(loaded, ["café", "🙂 the", b"\xff\xfe the".decode("latin-1")], [10, 10, 10], [1.0] * 3, [0] * 3)
    assert [len(text) for text in texts] == [10, 10, 10]
    assert all(set(text) <= set(tiny_charlstm.result.vocabulary.charset) for text in texts)
    invalid_utf8 = loaded.signatures["serving_default"](
        prompt=tf.constant([b"\xff the"]), length=tf.constant([5]), temperature=tf.constant([1.0]),
        seed=tf.constant([0], tf.int64),
    )
    assert len(invalid_utf8["text"].numpy()[0].decode("utf-8")) == 5


@pytest.mark.parametrize(
    "prompt, length, temperature, message",
    [
        ("the", 0, 1.0, "length must be at least 1"),
        ("the", MAX_LENGTH + 1, 1.0, f"length must be at most {MAX_LENGTH}"),
        ("the", 5, 0.0, "temperature must be positive"),
        ("the", 5, -1.0, "temperature must be positive"),
        ("the", 5, float("nan"), "temperature must be positive"),
        ("the", 5, float("inf"), "temperature must be a finite number"),
        ("🙂🙂", 5, 1.0, "at least one known character"),
        ("", 5, 1.0, "at least one known character"),
        ("a" * (MAX_LENGTH + 1), 5, 1.0, f"a prompt must have at most {MAX_LENGTH} characters"),
    ],
)
def test_bad_generation_input_is_an_invalid_argument(tiny_charlstm, prompt, length, temperature, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        generate(tiny_charlstm.loaded, [prompt], [length], [temperature], [0])


def test_bad_score_and_step_input_is_an_invalid_argument(tiny_charlstm):
    signatures = tiny_charlstm.loaded.signatures
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 2 characters"):
        signatures["score"](text=tf.constant(["a"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="char_ids must be ids in"):
        signatures["step"](
            char_ids=tf.constant([[10_000]], tf.int64), **{name: tf.zeros([1, 32]) for name in STATES},
            temperature=tf.constant([1.0]), seed=tf.constant([0], tf.int64), position=tf.constant([0], tf.int64),
        )
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        generate(tiny_charlstm.loaded, ["the", "cat"], [5], [1.0, 1.0], [0, 0])
