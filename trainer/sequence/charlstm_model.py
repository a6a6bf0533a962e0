"""The char-LSTM network: Embedding -> stacked LSTM -> Dense logits, compiled with Adam and gradient clipping.

The LSTM layers keep Keras's cuDNN-eligible settings (tanh, sigmoid recurrent activation, no recurrent
dropout, no unrolling, biases on, no mask), so on a GPU `fit` runs the fused cuDNN kernel; dropout sits
between layers, where it does not disqualify cuDNN. Bits per character (cross-entropy / ln 2) is a named
metric, so the progress bar, the checkpoints, early stopping and TensorBoard all see `bpc` and `val_bpc`.
"""

from __future__ import annotations

import math

import keras

LN2 = math.log(2.0)
EMBEDDING = "embedding"
LOGITS = "logits"


def lstm_name(layer: int) -> str:
    """Name of LSTM layer number `layer` (1-based), by which the export finds its cell."""
    return f"lstm_{layer}"


@keras.saving.register_keras_serializable(package="charlstm")
def bits_per_char(targets: keras.KerasTensor, logits: keras.KerasTensor) -> keras.KerasTensor:
    """Cross-entropy of the next character in bits (nats / ln 2), per position."""
    return keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True) / LN2


def build_char_lstm(vocabulary_size: int, embedding_dim: int, units: int, layers: int, dropout: float) -> keras.Model:
    """char ids [B, T] -> next-character logits [B, T, vocabulary_size]."""
    char_ids = keras.Input((None,), dtype="int32", name="char_ids")
    features = keras.layers.Embedding(vocabulary_size, embedding_dim, name=EMBEDDING)(char_ids)
    for layer in range(1, layers + 1):
        features = keras.layers.LSTM(units, return_sequences=True, name=lstm_name(layer))(features)
        if dropout:
            features = keras.layers.Dropout(dropout, name=f"dropout_{layer}")(features)
    logits = keras.layers.Dense(vocabulary_size, name=LOGITS)(features)
    return keras.Model(char_ids, logits, name="char_lstm")


def compile_char_lstm(model: keras.Model, learning_rate: float, clip_norm: float) -> None:
    """Adam with global-norm clipping, cross-entropy on logits, bits per character as the metric."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.MeanMetricWrapper(bits_per_char, name="bpc")],
    )
