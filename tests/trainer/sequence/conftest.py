"""Fixtures for the char-LSTM tests: one tiny model trained on a small text, exported and reloaded."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import tensorflow as tf
from charlstm_fixtures import tiny_config

from trainer.sequence.charlstm import CharLSTMResult, train_charlstm
from trainer.sequence.charlstm_config import CharLSTMConfig


@dataclass(frozen=True)
class TinyCharLSTM:
    """The finished tiny run, its config and its export reloaded with TensorFlow."""

    config: CharLSTMConfig
    result: CharLSTMResult
    loaded: object


@pytest.fixture(scope="session")
def tiny_charlstm(tmp_path_factory: pytest.TempPathFactory) -> TinyCharLSTM:
    config = tiny_config(tmp_path_factory.mktemp("charlstm"))
    result = train_charlstm(config, command=["test"])
    return TinyCharLSTM(config, result, tf.saved_model.load(str(result.export.path)))
