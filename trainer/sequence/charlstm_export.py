"""The signatures of a char-LSTM export (export-contract.md, family `char_lstm`).

- `serving_default`: `prompt` string [N], `length` int32 [N], `temperature` float32 [N], `seed` int64 [N]
  -> `text` string [N], the `length` characters that continue the prompt (the prompt is not repeated);
- `step`: `char_ids` int64 [N, T] fed from the states `h_1`, `c_1`, ... float32 [N, units] (zeros to
  start), then one character drawn with `temperature`, `seed` and `position` (its index in the generated
  text) -> `logits` float32 [N, K+1] after the last fed character, `next_ids` int64 [N], `next_chars`
  string [N] and the new states under the same names. Feeding the prompt, then each drawn id with
  positions 0, 1, 2, ... gives exactly the text of `serving_default` for the same seed;
- `encode`: `text` string [N] -> `char_ids` int64 [N, T] (padded with 0) and `lengths` int64 [N], the
  ids `step` takes, so a REST client needs no charset of its own;
- `score`: `text` string [N] -> `bits_per_char` float32 [N].
Id 0 is the unknown slot: unseen characters (and invalid UTF-8) map to it, and it is never generated.
Bad input fails inside the graph with InvalidArgumentError, which servers answer with INVALID_ARGUMENT
(HTTP 400): a length outside [1, max_length], a temperature that is not a positive finite number, a
prompt with no character of the charset (an empty prompt included), a prompt or scored text longer than
max_length characters, a scored text shorter than 2 characters, ids outside [0, K], inputs whose batch
sizes differ.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trainer.export.spec import DEFAULT_SIGNATURE, Signature
from trainer.sequence.charlstm_graph import CharLSTMGraph

FAMILY = "char_lstm"
TEXT_MEANING = "UTF-8 text; characters outside the charset map to the unknown id 0"


def state_names(layers: int) -> list[str]:
    """Names of the recurrent state tensors: h_1, c_1, h_2, c_2, ..."""
    return [f"{kind}_{layer}" for layer in range(1, layers + 1) for kind in ("h", "c")]


def _checked(checks: list[tf.Operation], *tensors: tf.Tensor) -> list[tf.Tensor]:
    """tensors, readable only after every check has passed (so no loop starts on bad input)."""
    with tf.control_dependencies(checks):
        return [tf.identity(tensor) for tensor in tensors]


def _same_batch(first: tf.Tensor, *others: tf.Tensor) -> list[tf.Operation]:
    rows = tf.shape(first)[0]
    return [
        tf.debugging.assert_equal(tf.shape(other)[0], rows, message="every input must have the same batch size")
        for other in others
    ]


def _temperature_checks(temperature: tf.Tensor) -> list[tf.Operation]:
    return [
        tf.debugging.assert_positive(temperature, message="temperature must be positive"),
        tf.debugging.assert_all_finite(temperature, message="temperature must be a finite number"),
    ]


def _at_most(ids: tf.RaggedTensor, most: int, what: str) -> tf.Operation:
    return tf.debugging.assert_less_equal(
        ids.row_lengths(), tf.constant(most, tf.int64), message=f"{what} must have at most {most} characters"
    )


def _at_least(ids: tf.RaggedTensor, least: int, what: str) -> tf.Operation:
    return tf.debugging.assert_greater_equal(
        ids.row_lengths(), tf.constant(least, tf.int64), message=f"{what} must have at least {least} characters"
    )


def _serving_default(graph: CharLSTMGraph, max_length: int, warmup_prompt: str) -> Signature:
    def serve(prompt: tf.Tensor, length: tf.Tensor, temperature: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        ids = graph.encode(prompt)
        checks = [
            *_same_batch(prompt, length, temperature, seed),
            tf.debugging.assert_positive(length, message="length must be at least 1"),
            tf.debugging.assert_less_equal(length, max_length, message=f"length must be at most {max_length}"),
            *_temperature_checks(temperature),
            _at_most(ids, max_length, "a prompt"),
            tf.debugging.assert_positive(
                tf.reduce_max(ids, axis=1),
                message="every prompt needs at least one known character, one of the charset (an empty prompt has none)",
            ),
        ]
        prompt, length, temperature, seed = _checked(checks, prompt, length, temperature, seed)
        return {"text": graph.generate(prompt, length, temperature, seed)}

    return Signature(
        name=DEFAULT_SIGNATURE,
        fn=serve,
        inputs=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([None], tf.int32, name="length"),
            tf.TensorSpec([None], tf.float32, name="temperature"),
            tf.TensorSpec([None], tf.int64, name="seed"),
        ],
        meanings={
            "prompt": f"UTF-8 text to continue: 1 to {max_length} characters, at least one of them in the charset",
            "length": f"number of characters to generate, 1 to {max_length}",
            "temperature": "sampling temperature > 0: below 1 safer, above 1 more surprising",
            "seed": "seed of the sampling: the same seed gives the same text",
            "text": "the generated continuation (without the prompt)",
        },
        warmup={
            "prompt": np.array([warmup_prompt.encode()], dtype=object),
            "length": np.array([2], np.int32),
            "temperature": np.array([1.0], np.float32),
            "seed": np.array([0], np.int64),
        },
        description="Generate text in the graph: continue each prompt by `length` sampled characters.",
    )


def _step(graph: CharLSTMGraph, layers: int) -> Signature:
    names = state_names(layers)
    vocabulary_size = int(graph.characters.shape[0])

    def step(char_ids: tf.Tensor, *rest: tf.Tensor) -> dict[str, tf.Tensor]:
        states, (temperature, seed, position) = list(rest[: len(names)]), rest[len(names):]
        checks = [
            *_same_batch(char_ids, *states, temperature, seed, position),
            tf.debugging.assert_positive(tf.shape(char_ids)[1], message="char_ids must hold at least one id per row"),
            tf.debugging.assert_non_negative(char_ids, message="char_ids must be ids in [0, K]"),
            tf.debugging.assert_less(char_ids, tf.constant(vocabulary_size, tf.int64),
                                     message=f"char_ids must be ids in [0, {vocabulary_size - 1}]"),
            *_temperature_checks(temperature),
            tf.debugging.assert_non_negative(position, message="position must be at least 0"),
        ]
        char_ids, *states = _checked(checks, char_ids, *states)
        logits, states = graph.feed(char_ids, states)
        next_ids = graph.sample(logits[:, -1], temperature, seed, position)
        outputs = {"logits": logits[:, -1], "next_ids": next_ids, "next_chars": graph.decode(next_ids)}
        return {**outputs, **dict(zip(names, states))}

    state_specs = [tf.TensorSpec([None, size], tf.float32, name=name) for name, size in zip(names, graph.state_sizes)]
    state_meaning = "recurrent state {} of LSTM layer {} (zeros before the first character)"
    return Signature(
        name="step",
        fn=step,
        inputs=[
            tf.TensorSpec([None, None], tf.int64, name="char_ids"),
            *state_specs,
            tf.TensorSpec([None], tf.float32, name="temperature"),
            tf.TensorSpec([None], tf.int64, name="seed"),
            tf.TensorSpec([None], tf.int64, name="position"),
        ],
        meanings={
            "char_ids": "character ids to feed, in order (see charset: id i is charset[i-1], 0 unknown)",
            **{name: state_meaning.format(name[0], name[2:]) for name in names},
            "temperature": "sampling temperature > 0 of the drawn character",
            "seed": "seed of the sampling, as in serving_default",
            "position": "index of the drawn character in the generated text (0 for the first)",
            "logits": "next-character logits after the last fed character, one per id",
            "next_ids": "the drawn character's id (never 0)",
            "next_chars": "the drawn character",
        },
        warmup={
            "char_ids": np.array([[1]], np.int64),
            **{name: np.zeros((1, size), np.float32) for name, size in zip(names, graph.state_sizes)},
            "temperature": np.array([1.0], np.float32),
            "seed": np.array([0], np.int64),
            "position": np.array([0], np.int64),
        },
        description="Feed characters from given states, draw the next one: client-side streaming.",
    )


def _encode(graph: CharLSTMGraph, max_length: int, warmup_text: str) -> Signature:
    def encode(text: tf.Tensor) -> dict[str, tf.Tensor]:
        ids = graph.encode(text)
        char_ids, lengths = _checked([_at_most(ids, max_length, "a text")], ids.to_tensor(), ids.row_lengths())
        return {"char_ids": char_ids, "lengths": lengths}

    return Signature(
        name="encode",
        fn=encode,
        inputs=[tf.TensorSpec([None], tf.string, name="text")],
        meanings={
            "text": f"{TEXT_MEANING}; at most {max_length} characters",
            "char_ids": "the ids of each text's characters, padded with 0 after its length",
            "lengths": "number of characters of each text",
        },
        warmup={"text": np.array([warmup_text.encode()], dtype=object)},
        description="Text to the character ids that `step` takes.",
    )


def _score(graph: CharLSTMGraph, max_length: int, warmup_text: str) -> Signature:
    def score(text: tf.Tensor) -> dict[str, tf.Tensor]:
        ids = graph.encode(text)
        (text,) = _checked([_at_least(ids, 2, "a scored text"), _at_most(ids, max_length, "a scored text")], text)
        return {"bits_per_char": graph.score(text)}

    return Signature(
        name="score",
        fn=score,
        inputs=[tf.TensorSpec([None], tf.string, name="text")],
        meanings={
            "text": f"{TEXT_MEANING}; 2 to {max_length} characters",
            "bits_per_char": "mean -log2 p of each character after the first, from zero states (as in training)",
        },
        warmup={"text": np.array([warmup_text.encode()], dtype=object)},
        description="Bits per character of texts under the model.",
    )


def charlstm_signatures(graph: CharLSTMGraph, layers: int, max_length: int, warmup_text: str) -> list[Signature]:
    """All signatures of a char-LSTM; warmup_text (2+ characters of the charset) fills the warmup requests."""
    return [
        _serving_default(graph, max_length, warmup_text),
        _step(graph, layers),
        _encode(graph, max_length, warmup_text),
        _score(graph, max_length, warmup_text),
    ]
