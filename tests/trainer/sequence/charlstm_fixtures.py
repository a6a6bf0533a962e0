"""Helpers of the char-LSTM tests: a small text written on the spot and the config of a tiny model."""

from __future__ import annotations

import random
from pathlib import Path

from trainer.sequence.charlstm_config import CharLSTMConfig

WORDS = ("the", "cat", "sat", "on", "a", "mat", "and", "café", "dog", "ran", "far", "away")
MAX_LENGTH = 300


def write_corpus(path: Path, lines: int = 200, seed: int = 0) -> Path:
    """Lines of random words (one of them non-ASCII), so a tiny LSTM learns something in a few steps."""
    rng = random.Random(seed)
    path.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(lines)) + "\n")
    return path


def tiny_config(root: Path, **overrides: object) -> CharLSTMConfig:
    """A 2-layer LSTM(32) on seq 20, a few steps per epoch: seconds on two busy cores."""
    values = dict(
        text=str(write_corpus(root / "corpus.txt")), embedding_dim=16, lstm_units=32, lstm_layers=2, seq_length=20,
        batch_size=16, epochs=2, steps_per_epoch=4, sample_length=20, sample_temperatures="0.5,1.0",
        max_length=MAX_LENGTH, export_root=root / "saved_models", run_dir=root / "run", model_name="tiny_charlstm",
    )
    return CharLSTMConfig(**{**values, **overrides})
