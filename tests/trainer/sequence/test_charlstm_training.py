"""The char-LSTM job: what a run leaves behind, resuming it, epoch samples and errors before training."""

from __future__ import annotations

import keras
import pytest
from charlstm_fixtures import tiny_config

from trainer.errors import TrainerError
from trainer.sequence.charlstm import train_charlstm
from trainer.sequence.charlstm_graph import CharLSTMGraph
from trainer.sequence.charlstm_samples import EpochSamples


def test_a_run_keeps_config_logs_and_best_checkpoint(tiny_charlstm):
    run_dir = tiny_charlstm.config.run_dir
    assert (run_dir / "config.json").is_file()
    assert (run_dir / "checkpoints" / "best.keras").is_file()
    assert any((run_dir / "tensorboard" / "validation").iterdir())
    assert tiny_charlstm.result.epochs_run == [0, 1]
    assert 0 < tiny_charlstm.result.validation_bpc < 6


def test_epoch_samples_have_the_asked_length_at_each_temperature(tiny_charlstm):
    result = tiny_charlstm.result
    graph = CharLSTMGraph(result.model, result.vocabulary.charset, layers=2)
    samples = EpochSamples(graph, "the cat", [0.2, 1.0, 1.5], length=17, seed=3).samples()
    assert [len(text) for text in samples] == [17, 17, 17]


class _Crash(Exception):
    pass


class _CrashAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise _Crash()


def test_an_interrupted_run_resumes_after_its_last_finished_epoch(tmp_path, capsys):
    config = tiny_config(tmp_path, epochs=2, steps_per_epoch=2)
    with pytest.raises(_Crash):
        train_charlstm(config, callbacks=[_CrashAfterFirstEpoch()])
    assert (tmp_path / "run" / "backup").is_dir() and not config.export_root.exists()
    resumed = train_charlstm(config)
    assert resumed.epochs_run == [1] and resumed.export.version == 1
    output = capsys.readouterr().out
    assert "epoch 2: validation" in output and "--- temperature 0.5" in output


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"\x00\x01\x02" * 50, "looks binary")])
def test_empty_or_binary_corpus_fails_before_training(tmp_path, content, message):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(content)
    with pytest.raises(TrainerError, match=message):
        train_charlstm(tiny_config(tmp_path, text=str(corpus)))
    assert not (tmp_path / "run").exists()
