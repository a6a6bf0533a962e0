"""The IDX reader on small files written by the test."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from trainer.data.idx import parse_idx, read_idx
from trainer.errors import TrainerError


@pytest.mark.parametrize("name", ["images.gz", "images"])
def test_reads_uint8_images_gzipped_or_raw(tmp_path, idx_writer, name):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    result = read_idx(idx_writer(tmp_path / name, images))
    assert result.dtype == np.uint8 and result.shape == (2, 3, 4)
    np.testing.assert_array_equal(result, images)


@pytest.mark.parametrize("dtype", [">i4", ">f4"])
def test_reads_big_endian_types_into_native_order(tmp_path, idx_writer, dtype):
    values = np.array([1, -2, 300000], dtype=dtype)
    result = read_idx(idx_writer(tmp_path / "values.gz", values))
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, values.astype(result.dtype))


def test_rejects_a_file_without_the_idx_magic_number(tmp_path):
    path = tmp_path / "not-idx.gz"
    path.write_bytes(gzip.compress(b"PK\x03\x04 definitely a zip"))
    with pytest.raises(TrainerError, match="not an IDX file"):
        read_idx(path)


def test_rejects_data_shorter_than_the_header_promises(tmp_path, idx_writer):
    path = idx_writer(tmp_path / "images", np.zeros((2, 4, 4), np.uint8))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(TrainerError, match=r"holds 27 data bytes.*needs 32"):
        read_idx(path)


def test_rejects_a_truncated_header():
    with pytest.raises(TrainerError, match="truncated"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0]), "short")


def test_unreadable_gzip_is_a_trainer_error(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(TrainerError, match="cannot read IDX file"):
        read_idx(path)
