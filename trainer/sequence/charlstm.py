"""Character-level LSTM language model: corpus -> windows -> `fit` -> validation bpc -> export.

`python -m trainer sequence charlstm` trains the textbook 2-layer, 512-unit LSTM on characters
(Karpathy's char-rnn; *Python Deep Learning* 2nd ed., chapter 7) and exports it so that a TensorFlow
Serving endpoint generates text in one call (`serving_default`), streams it (`step`) or scores it (`score`).

Truncated backpropagation through time uses **sliding windows**, not stateful batches. Every window
of `seq_length + 1` characters (starts `window_stride` apart, disjoint by default) is an independent
example that starts from zero states, and gradients flow through its `seq_length` steps only. Why:
- the windows can be shuffled, so batches are close to i.i.d. and Adam sees no drift along the corpus;
  stateful batches must be fed in corpus order, B parallel streams, with the state reset by hand;
- `fit`, validation, BackupAndRestore, checkpoints and early stopping work unchanged; stateful layers
  need a fixed batch size and resets around validation, and a resumed run would restart its states;
- training, scoring and serving start from the same zero state, so the export's `score` reproduces the
  training loss of a window exactly, and generation starts where training did;
- the model stays stateless and cuDNN-eligible (no masks, fixed-length windows).
The cost is context: a prediction sees at most `seq_length` characters of history in training (100 by
default: several words, enough for fortunes, which are mostly short), where stateful batches carry
the state across windows. Overlapping windows (`--window-stride` below `seq_length`) trade epoch time for
more examples, as the keras-io example does (stride 3, 40 characters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from trainer.export.contract import export_saved_model
from trainer.export.spec import ExportResult, ModelInfo, job_model_info
from trainer.runs import begin_job, default_run_dir, prepare_run_dir, training_callbacks
from trainer.sequence.char_data import (
    Vocabulary,
    build_vocabulary,
    split_contiguous,
    window_count,
    windows,
)
from trainer.sequence.charlstm_config import CharLSTMConfig
from trainer.sequence.charlstm_export import FAMILY, charlstm_signatures, state_names
from trainer.sequence.charlstm_graph import CharLSTMGraph
from trainer.sequence.charlstm_model import build_char_lstm, compile_char_lstm
from trainer.sequence.charlstm_samples import EpochSamples
from trainer.sequence.corpus import Corpus, load_corpus

TRAINER = "sequence charlstm"
MONITOR = "val_loss"  # val_bpc is val_loss / ln 2; Keras infers "lower is better" only for losses
SAMPLE_PROMPT_CHARS = 40


@dataclass(frozen=True)
class CharLSTMResult:
    """What a char-LSTM job produced: run dir, epochs run by this call, validation bpc, model and export."""

    run_dir: Path
    epochs_run: list[int]
    validation_bpc: float
    model: keras.Model
    vocabulary: Vocabulary
    export: ExportResult


def _sample_prompt(config: CharLSTMConfig, validation_text: str) -> str:
    """--sample-prompt, or the first non-empty line of the validation text (cut to a few words)."""
    if config.sample_prompt:
        return config.sample_prompt
    lines = [line for line in validation_text.splitlines() if line.strip()]
    return (lines[0] if lines else validation_text)[:SAMPLE_PROMPT_CHARS]


def _fit(
    model: keras.Model, config: CharLSTMConfig, splits: tuple[np.ndarray, np.ndarray], run_dir: Path,
    callbacks: Sequence[keras.callbacks.Callback],
) -> keras.callbacks.History:
    train, validation = splits
    train_batches = windows(train, config.seq_length, config.stride, config.batch_size, shuffle_seed=config.seed)
    return model.fit(
        train_batches.repeat() if config.steps_per_epoch else train_batches,
        validation_data=windows(validation, config.seq_length, config.seq_length, config.batch_size),
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        shuffle=False,  # the tf.data pipeline reshuffles the windows every epoch
        callbacks=[*training_callbacks(run_dir, MONITOR, config.patience), *callbacks],
        verbose=1,
    )


def _model_info(
    config: CharLSTMConfig, command: Sequence[str], corpus: Corpus, vocabulary: Vocabulary,
    splits: tuple[np.ndarray, np.ndarray], validation_bpc: float,
) -> ModelInfo:
    train, validation = splits
    return job_model_info(
        config,
        FAMILY,
        TRAINER,
        command,
        data={
            "corpus": corpus.source,
            "files": [str(path) for path in corpus.files],
            "encoding": corpus.encoding,
            "splits": {"train_chars": len(train), "validation_chars": len(validation)},
            "validation_from": "the last validation_fraction of the corpus (contiguous)",
            "train_windows": window_count(len(train), config.seq_length, config.stride),
        },
        metrics={"validation_bits_per_char": validation_bpc, "validation_chars": len(validation)},
        extra={
            "charset": list(vocabulary.charset),
            "unknown_id": 0,
            "state": [{"name": name, "size": config.lstm_units} for name in state_names(config.lstm_layers)],
            "max_length": config.max_length,
        },
    )


def train_charlstm(
    config: CharLSTMConfig, command: Sequence[str] = (), callbacks: Sequence[keras.callbacks.Callback] = ()
) -> CharLSTMResult:
    """Train, measure validation bits per character and export the next version of config.model_name.

    command is the argv recorded in model.json; callbacks run after the standard ones (e.g. in tests).
    """
    begin_job(config, FAMILY)
    corpus = load_corpus(config.text, config.encoding, config.limit_chars)
    vocabulary = build_vocabulary(corpus.text)
    splits = split_contiguous(vocabulary.encode(corpus.text), config.validation_fraction, config.seq_length)
    print(f"corpus: {len(corpus.text):,} characters from {len(corpus.files)} files, {len(vocabulary.charset)} distinct")
    run_dir = prepare_run_dir(config, config.run_dir or default_run_dir(config.model_name), list(command))
    model = build_char_lstm(
        vocabulary.size, config.embedding_dim, config.lstm_units, config.lstm_layers, config.dropout
    )
    compile_char_lstm(model, config.learning_rate, config.clip_norm)
    graph = CharLSTMGraph(model, vocabulary.charset, config.lstm_layers)
    validation_text = corpus.text[-len(splits[1]):]
    samples = EpochSamples(
        graph, _sample_prompt(config, validation_text), config.temperatures(), config.sample_length, config.seed
    )
    history = _fit(model, config, splits, run_dir, [samples, *callbacks])
    validation = windows(splits[1], config.seq_length, config.seq_length, config.batch_size)
    validation_bpc = float(model.evaluate(validation, verbose=0, return_dict=True)["bpc"])
    print(f"validation: {validation_bpc:.4f} bits per character")
    signatures = charlstm_signatures(graph, config.lstm_layers, config.max_length, vocabulary.charset[-1] * 2)
    info = _model_info(config, command, corpus, vocabulary, splits, validation_bpc)
    export = export_saved_model(info, signatures, config.export_root, lookups=[graph.lookup])
    print(f"exported {export.path} (validation {validation_bpc:.4f} bits per character)")
    return CharLSTMResult(run_dir, list(history.epoch), validation_bpc, model, vocabulary, export)
