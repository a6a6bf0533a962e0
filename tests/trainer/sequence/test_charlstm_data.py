"""Corpus loading, the vocabulary, the contiguous split and the BPTT windows of the char-LSTM trainer."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.errors import TrainerError
from trainer.sequence.char_data import build_vocabulary, split_contiguous, window_count, windows
from trainer.sequence.charlstm_config import CharLSTMConfig
from trainer.sequence.corpus import default_corpus_files, load_corpus, resolve_files


def test_paths_globs_and_folders_are_read_in_order_once(tmp_path):
    (tmp_path / "b.txt").write_text("bee\n")
    (tmp_path / "a.txt").write_text("ay\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("sea\n")
    (tmp_path / "sub" / ".hidden").write_text("no\n")
    patterns = f"{tmp_path / 'b.txt'},{tmp_path / '*.txt'},{tmp_path / 'sub'}"
    assert [path.name for path in resolve_files(patterns)] == ["b.txt", "a.txt", "c.md"]
    assert load_corpus(patterns, "utf-8").text == "bee\nay\nsea\n"
    assert load_corpus(patterns, "utf-8", limit_chars=5).text == "bee\na"


def test_the_default_corpus_skips_indexes_symlinks_and_offensive_fortunes(tmp_path):
    (tmp_path / "art").write_text("a fortune\n%\n")
    (tmp_path / "art.dat").write_bytes(b"\0\0\0\2binary index")
    (tmp_path / "art.u8").symlink_to(tmp_path / "art")
    (tmp_path / "off").mkdir()
    (tmp_path / "off" / "rude").write_text("rude\n")
    assert default_corpus_files(tmp_path) == [tmp_path / "art"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b" \n\t\n", "is empty"),
        (b"PK\x03\x04\x00\x00binary", "looks binary"),
        (b"caf\xe9 latin-1", "not valid utf-8 at byte 3"),
    ],
)
def test_bad_corpus_files_are_trainer_errors(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(TrainerError, match=message):
        load_corpus(str(path), "utf-8")


def test_a_stated_encoding_is_used_and_missing_paths_are_named(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"caf\xe9")
    assert load_corpus(str(path), "latin-1").text == "café"
    with pytest.raises(TrainerError, match="'nowhere/\\*.txt' matches no file"):
        load_corpus("nowhere/*.txt", "utf-8")
    with pytest.raises(TrainerError, match="--encoding 'klingon'"):
        CharLSTMConfig(encoding="klingon")


def test_vocabulary_maps_unseen_characters_to_the_unknown_slot():
    vocabulary = build_vocabulary("baé a")
    assert vocabulary.charset == (" ", "a", "b", "é") and vocabulary.size == 5
    assert vocabulary.encode("ab é🙂z").tolist() == [2, 3, 1, 4, 0, 0]


def test_split_is_contiguous_and_too_short_a_corpus_is_an_error():
    ids = np.arange(100)
    train, validation = split_contiguous(ids, 0.1, seq_length=5)
    assert train.tolist() == list(range(90)) and validation.tolist() == list(range(90, 100))
    with pytest.raises(TrainerError, match="too few"):
        split_contiguous(np.arange(10), 0.1, seq_length=5)


def test_windows_are_shifted_by_one_character():
    ids = np.arange(25, dtype=np.int32)
    batches = list(windows(ids, seq_length=4, stride=4, batch_size=3).as_numpy_iterator())
    inputs = np.concatenate([x for x, _ in batches])
    targets = np.concatenate([y for _, y in batches])
    assert len(inputs) == window_count(25, 4, 4) == 6
    assert inputs[1].tolist() == [4, 5, 6, 7] and targets[1].tolist() == [5, 6, 7, 8]
    shuffled = np.concatenate([x for x, _ in windows(ids, 4, 4, 3, shuffle_seed=1).as_numpy_iterator()])
    assert sorted(map(tuple, shuffled.tolist())) == sorted(map(tuple, inputs.tolist()))
