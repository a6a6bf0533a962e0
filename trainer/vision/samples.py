"""Sample images as PNG files (`python -m trainer vision samples`): test inputs for clients and end-to-end jobs.

`--out DIR` receives `count` images of one split, chosen by a seeded shuffle (`--seed`) and written in split
order as 8-bit greyscale PNGs with the dataset's pixel values (0 = black background), named
`<index>_<label_id>.png`: index is the image's position in the split file, zero-padded to 5 digits, and
label_id its class id, so the label can be read from the name. Beside them go `labels.csv` (columns
file,label_id,label_name) and `config.json` (the command line and flags, to repeat the choice).

Everything is written into a fresh sibling `DIR.tmp-*` that is renamed to DIR at the end, so a DIR that exists
is complete; a failed or interrupted job removes its temp folder. An existing non-empty DIR is refused unless
`--overwrite` is given and DIR holds a labels.csv, so only an earlier samples folder can be replaced.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from trainer.config import format_config, require, save_config
from trainer.data.image_datasets import LabelledImages, load_image_dataset
from trainer.errors import TrainerError
from trainer.vision.samples_config import SamplesConfig

LABELS_CSV = "labels.csv"
CSV_COLUMNS = ("file", "label_id", "label_name")
INDEX_DIGITS = 5

LabelRow = tuple[str, int, str]


def png_name(index: int, label_id: int) -> str:
    """`00042_7.png` for the image at position 42 of its split, of class 7."""
    return f"{index:0{INDEX_DIGITS}d}_{label_id}.png"


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse a file, or a non-empty folder unless overwrite is set and the folder holds earlier samples."""
    if out.exists() and not out.is_dir():
        raise TrainerError(f"--out {out} exists and is not a directory")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise TrainerError(f"--out {out} already exists and is not empty; pass --overwrite to replace it")
    if not (out / LABELS_CSV).is_file():
        raise TrainerError(
            f"--out {out} holds no {LABELS_CSV}, so it is not a samples folder; --overwrite replaces only those"
        )


def sample_indices(size: int, count: int, seed: int) -> np.ndarray:
    """count (at most size) distinct positions in 0..size-1, chosen by a shuffle seeded with seed, in order."""
    return np.sort(np.random.default_rng(seed).permutation(size)[:count])


def write_pngs(
    data: LabelledImages, indices: np.ndarray, class_names: Sequence[str], directory: Path
) -> list[LabelRow]:
    """Write the images at indices as PNGs into directory; return their (file, label_id, label_name) rows."""
    rows = []
    for index in tqdm(indices, desc="writing PNGs", unit="image", disable=None):
        label_id = int(data.labels[index])
        name = png_name(int(index), label_id)
        if not cv2.imwrite(str(directory / name), data.images[index]):
            raise TrainerError(f"OpenCV could not write {directory / name}")
        rows.append((name, label_id, class_names[label_id]))
    return rows


def write_labels_csv(path: Path, rows: Sequence[LabelRow]) -> None:
    """labels.csv: a header line, then one `file,label_id,label_name` row per PNG."""
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)


@contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A fresh sibling `<out>.tmp-*` to write into; removed if the block fails or is interrupted."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{out.name}.tmp-", dir=out.parent))
    except OSError as error:
        raise TrainerError(f"cannot create a folder next to {out}: {error.strerror}") from error
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish(staging: Path, out: Path, overwrite: bool) -> None:
    """Rename staging to out; with overwrite, earlier samples in out are moved aside first, then deleted.

    The rename is atomic: out is either absent, the earlier samples, or the complete new ones.
    """
    previous = staging.with_name(f"{staging.name}-previous")
    replacing = overwrite and out.is_dir() and any(out.iterdir())
    try:
        if replacing:
            os.rename(out, previous)
        os.rename(staging, out)
    except OSError as error:
        if replacing and previous.is_dir() and not out.exists():
            os.rename(previous, out)
        raise TrainerError(f"cannot rename {staging} to {out}: {error.strerror}") from error
    if replacing:
        shutil.rmtree(previous)


def write_samples(config: SamplesConfig, command: Sequence[str] = ()) -> Path:
    """Write config.count images of the chosen split to config.out as PNGs with labels.csv; return the folder."""
    print(format_config(config))
    check_out_dir(config.out, config.overwrite)
    dataset = load_image_dataset(config.dataset, config.data_dir, config.offline)
    split: LabelledImages = getattr(dataset, config.split)
    require(
        config.count <= len(split),
        f"--count {config.count} exceeds the {len(split)} images of the {config.split} split in {dataset.source}",
    )
    indices = sample_indices(len(split), config.count, config.seed)
    out = config.out.resolve()
    with staging_dir(out) as staging:
        rows = write_pngs(split, indices, dataset.class_names, staging)
        write_labels_csv(staging / LABELS_CSV, rows)
        save_config(config, list(command), staging / "config.json")
        publish(staging, out, config.overwrite)
    print(f"wrote {len(rows)} {config.split} images of {dataset.name} from {dataset.source} to {config.out}")
    return config.out
