"""Flags of `python -m trainer sequence charlstm`, with the textbook defaults of the 2-layer, 512-unit char-LSTM.

Sources of the defaults (see /work/shared/specs/model-references.md section 5): the 2x512 LSTM, batch 64,
sequence 100, Adam 2e-3 and global-norm clip 5 of *Python Deep Learning* 2nd ed. (chapter 7); the 95/5
contiguous train/validation split and 50 epochs of karpathy/char-rnn; the sampling temperatures of the
keras-io character-generation example. Kept apart from the training code so the CLI needs no TensorFlow.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from trainer.config import flag, require
from trainer.export.layout import validate_model_name

QUICK_PRESET = {
    "limit_chars": 200_000,
    "lstm_units": 128,
    "seq_length": 100,
    "batch_size": 32,
    "epochs": 3,
    "steps_per_epoch": 100,
}


@dataclass
class CharLSTMConfig:
    """One char-LSTM training job: corpus, network, truncated BPTT, optimisation, samples, and outputs."""

    text: str | None = flag(
        None,
        "comma-separated text files, quoted globs or folders (default: the plain files of Debian's fortunes "
        "package in /usr/share/games/fortunes, without the .dat indexes and the offensive 'off' folder)",
    )
    encoding: str = flag("utf-8", "encoding of the text files")
    limit_chars: int | None = flag(None, "use only the first N characters of the corpus")
    validation_fraction: float = flag(0.05, "tail of the corpus held out for validation (char-rnn: 0.05)")
    embedding_dim: int = flag(64, "size of the character embedding that feeds the first LSTM")
    lstm_units: int = flag(512, "units of each LSTM layer (char-rnn for large data, PDL 2nd ed.: 512)")
    lstm_layers: int = flag(2, "number of stacked LSTM layers (char-rnn, PDL: 2)")
    dropout: float = flag(0.0, "dropout after each LSTM layer (char-rnn: 0; it suggests 0.5 for 2x512 on big corpora)")
    seq_length: int = flag(100, "characters per training window: the truncated-BPTT length (PDL: 100)")
    window_stride: int | None = flag(None, "characters between window starts (default: seq_length, disjoint windows)")
    batch_size: int = flag(64, "windows per training step (PDL: 64)")
    learning_rate: float = flag(2e-3, "Adam learning rate (char-rnn, PDL: 2e-3)")
    clip_norm: float = flag(5.0, "global gradient-norm clip of Adam (PDL: 5)")
    epochs: int = flag(50, "maximum number of epochs (char-rnn: 50)")
    steps_per_epoch: int | None = flag(None, "training batches per epoch (default: one pass over the windows)")
    patience: int = flag(3, "epochs without validation bits-per-character gain before early stopping")
    sample_length: int = flag(200, "characters generated at each temperature after every epoch")
    sample_temperatures: str = flag("0.2,0.5,1.0", "comma-separated sampling temperatures of the epoch samples")
    sample_prompt: str | None = flag(None, "prompt of the epoch samples (default: the validation text's first line)")
    max_length: int = flag(4096, "longest prompt, generation or scored text the export accepts, in characters")
    seed: int = flag(1, "seed of Python, NumPy, TensorFlow, the window shuffle and the epoch samples")
    model_name: str = flag("charlstm", "export name")
    export_root: Path = flag(Path("saved_models"), "folder that holds <model_name>/<version>/ exports")
    run_dir: Path | None = flag(None, "folder for logs and checkpoints; reuse it to resume (default: runs/...)")

    def __post_init__(self) -> None:
        """Validate every flag, so a bad value fails before the corpus is read."""
        for name in ("embedding_dim", "lstm_units", "lstm_layers", "batch_size", "epochs", "patience",
                     "sample_length", "max_length"):
            value = getattr(self, name)
            require(value >= 1, f"--{name.replace('_', '-')} must be at least 1, got {value}")
        require(self.seq_length >= 2, f"--seq-length must be at least 2, got {self.seq_length}")
        require(self.window_stride is None or self.window_stride >= 1,
                f"--window-stride must be at least 1, got {self.window_stride}")
        require(self.steps_per_epoch is None or self.steps_per_epoch >= 1,
                f"--steps-per-epoch must be at least 1, got {self.steps_per_epoch}")
        require(self.limit_chars is None or self.limit_chars >= 1, f"--limit-chars must be at least 1, got {self.limit_chars}")
        require(0 < self.validation_fraction < 1,
                f"--validation-fraction must lie in (0, 1), got {self.validation_fraction}")
        require(0 <= self.dropout < 1, f"--dropout must lie in [0, 1), got {self.dropout}")
        require(self.learning_rate > 0, f"--learning-rate must be positive, got {self.learning_rate}")
        require(self.clip_norm > 0, f"--clip-norm must be positive, got {self.clip_norm}")
        self.temperatures()
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            require(False, f"--encoding '{self.encoding}' is not an encoding Python knows (e.g. utf-8, latin-1)")
        self.model_name = validate_model_name(self.model_name)

    def temperatures(self) -> tuple[float, ...]:
        """The epoch-sample temperatures as numbers; each must be positive."""
        try:
            values = tuple(float(item) for item in self.sample_temperatures.split(","))
        except ValueError:
            values = ()
        require(bool(values) and all(value > 0 for value in values),
                f"--sample-temperatures must be positive numbers separated by commas, got '{self.sample_temperatures}'")
        return values

    @property
    def stride(self) -> int:
        """Characters between the starts of consecutive training windows."""
        return self.window_stride or self.seq_length
