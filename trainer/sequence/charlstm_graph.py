"""The trained char-LSTM run one character at a time in TensorFlow graph code: feed, sample, generate, score.

These functions are the bodies of the exported signatures (`serving_default`, `step`, `encode`, `score`)
and of the epoch samples, so what the trainer prints is what the server returns. They use the LSTM
layers' cells directly (the same weights as the training model), so no serving graph ever holds a cuDNN
op, even when it was traced where a GPU is visible.

Sampling is reproducible per row: character number j (0 = the first generated one) of a row with seed s
is drawn by `tf.random.stateless_categorical` with seed (s, j), one row at a time. So a row's text does not
depend on the other rows of its batch (the server may batch requests of many clients together), and a
client that drives `step` character by character with the same seed and positions gets exactly the
text of `serving_default`: both run the same feed-then-sample ops in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from trainer.sequence.charlstm_model import EMBEDDING, LN2, LOGITS, lstm_name

UNKNOWN_TOKEN = "[UNK]"
States = list[tf.Tensor]


class CharLSTMGraph:
    """Graph functions over a trained char-LSTM `model` whose vocabulary is the unknown id 0, then the charset."""

    def __init__(self, model: keras.Model, charset: Sequence[str], layers: int) -> None:
        self.embedding = model.get_layer(EMBEDDING)
        self.cells = [model.get_layer(lstm_name(layer)).cell for layer in range(1, layers + 1)]
        self.dense = model.get_layer(LOGITS)
        self.lookup = keras.layers.StringLookup(
            vocabulary=list(charset), num_oov_indices=1, mask_token=None, oov_token=UNKNOWN_TOKEN, name="charset"
        )
        self.characters = tf.constant(["", *charset])
        self.never_sampled = tf.constant([-float("inf")] + [0.0] * len(charset))

    @property
    def state_sizes(self) -> list[int]:
        """Width of each recurrent state tensor, in order h_1, c_1, h_2, c_2, ..."""
        return [cell.units for cell in self.cells for _ in ("h", "c")]

    def zero_state(self, batch: tf.Tensor) -> States:
        """All-zero states for `batch` rows: where training windows start, and so where generation starts."""
        return [tf.zeros(tf.stack([batch, size])) for size in self.state_sizes]

    def encode(self, text: tf.Tensor) -> tf.RaggedTensor:
        """string [N] -> int64 ids [N, (characters)]; invalid UTF-8 and unseen characters become the unknown id 0."""
        characters = tf.strings.unicode_split(text, "UTF-8", errors="replace")
        return characters.with_flat_values(self.lookup(characters.flat_values))

    def decode(self, ids: tf.Tensor) -> tf.Tensor:
        """The characters of ids (the unknown id 0 decodes to the empty string)."""
        return tf.gather(self.characters, ids)

    def advance(self, ids: tf.Tensor, states: States) -> tuple[tf.Tensor, States]:
        """Feed one character per row (int64 [N]): next-character logits [N, K+1] and the new states."""
        features = self.embedding(ids)
        new_states = []
        for layer, cell in enumerate(self.cells):
            features, (h, c) = cell(features, states[2 * layer : 2 * layer + 2], training=False)
            new_states += [h, c]
        return self.dense(features), new_states

    def feed(self, ids: tf.Tensor, states: States, lengths: tf.Tensor | None = None) -> tuple[tf.Tensor, States]:
        """Feed ids [N, T]: logits after every character [N, T, K+1] and the states after each row's last one.

        lengths (int64 [N], default T) stops each row's states at its own length, for padded batches.
        """
        steps = tf.shape(ids, out_type=tf.int64)[1]
        lengths = tf.fill(tf.shape(ids)[:1], steps) if lengths is None else lengths
        columns = tf.TensorArray(tf.int64, size=tf.cast(steps, tf.int32)).unstack(tf.transpose(ids))
        logits = tf.TensorArray(tf.float32, size=tf.cast(steps, tf.int32))

        def body(t: tf.Tensor, states: States, logits: tf.TensorArray) -> tuple:
            step_logits, new_states = self.advance(columns.read(tf.cast(t, tf.int32)), states)
            active = (t < lengths)[:, None]
            states = [tf.where(active, new, old) for new, old in zip(new_states, states)]
            return t + 1, states, logits.write(tf.cast(t, tf.int32), step_logits)

        _, states, logits = tf.while_loop(lambda t, *_: t < steps, body, (tf.constant(0, tf.int64), states, logits))
        return tf.transpose(logits.stack(), [1, 0, 2]), states

    def sample(self, logits: tf.Tensor, temperature: tf.Tensor, seed: tf.Tensor, position: tf.Tensor) -> tf.Tensor:
        """One id per row from softmax(logits / temperature), seeded by (seed, position); never the unknown id 0."""
        shifted = logits - tf.reduce_max(logits, axis=-1, keepdims=True)
        scaled = shifted / temperature[:, None] + self.never_sampled
        seeds = tf.stack([seed, position], axis=1)

        def draw(row: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
            return tf.random.stateless_categorical(row[0][None], 1, row[1], dtype=tf.int64)[0, 0]

        return tf.map_fn(draw, (scaled, seeds), fn_output_signature=tf.int64)

    def generate(self, prompt: tf.Tensor, length: tf.Tensor, temperature: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Continue each prompt by length[i] sampled characters (the continuation only, as a string [N])."""
        prompt_ids = self.encode(prompt)
        logits, states = self.feed(prompt_ids.to_tensor(), self.zero_state(tf.shape(prompt)[0]), prompt_ids.row_lengths())
        last_logits = tf.gather(logits, prompt_ids.row_lengths() - 1, batch_dims=1)
        length = tf.cast(length, tf.int64)
        longest = tf.reduce_max(length)
        drawn = tf.TensorArray(tf.int64, size=tf.cast(longest, tf.int32))

        def body(j: tf.Tensor, logits: tf.Tensor, states: States, drawn: tf.TensorArray) -> tuple:
            ids = self.sample(logits, temperature, seed, tf.fill(tf.shape(seed), j))
            logits, states = self.advance(ids, states)  # once more than needed after the last draw: no branch
            return j + 1, logits, states, drawn.write(tf.cast(j, tf.int32), ids)

        loop = (tf.constant(0, tf.int64), last_logits, states, drawn)
        _, _, _, drawn = tf.while_loop(lambda j, *_: j < longest, body, loop)
        ids = tf.transpose(drawn.stack())
        kept = tf.range(longest)[None, :] < length[:, None]
        return tf.strings.reduce_join(tf.ragged.boolean_mask(self.decode(ids), kept), axis=1)

    def score(self, text: tf.Tensor) -> tf.Tensor:
        """Bits per character of each text [N]: the mean -log2 p of characters 2..n given those before.

        Like a training window, it starts from zero states and predicts every character but the first.
        """
        ids = self.encode(text)
        padded, lengths = ids.to_tensor(), ids.row_lengths()
        logits, _ = self.feed(padded, self.zero_state(tf.shape(text)[0]))
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(padded[:, 1:], logits[:, :-1])
        scored = tf.range(tf.shape(padded, out_type=tf.int64)[1] - 1)[None, :] < lengths[:, None] - 1
        total = tf.reduce_sum(tf.where(scored, nats, 0.0), axis=1)
        return total / tf.cast(lengths - 1, tf.float32) / LN2
