"""The text a char-LSTM learns from: files named by paths, globs or folders, read with a stated encoding.

Every problem with the input is a TrainerError that names the file: a missing path, a file that is binary
(it holds NUL bytes, which no text encoding used for corpora produces) or not valid in the encoding, and a
corpus that is empty. The default corpus is Debian's `fortunes` package (`apt-get install fortunes`):
its plain fortune files, without the `.dat` indexes that `strfile` writes beside them, the `.u8` symlinks
(aliases of the same files) and the `off/` folder of offensive fortunes that `fortunes-off` installs.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import TrainerError

DEFAULT_CORPUS = Path("/usr/share/games/fortunes")
FORTUNE_INDEX_SUFFIX = ".dat"
OFFENSIVE_FOLDER = "off"
BINARY_PROBE_BYTES = 8192


@dataclass(frozen=True)
class Corpus:
    """The concatenated text of some files, with where it came from (for model.json)."""

    text: str
    files: tuple[Path, ...]
    encoding: str
    source: str


def _folder_files(folder: Path) -> list[Path]:
    """The regular files under folder, recursively, sorted, without symlinks or hidden entries."""
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink() and not path.name.startswith(".")
    )


def default_corpus_files(root: Path = DEFAULT_CORPUS) -> list[Path]:
    """The plain fortune files of root (no .dat index, no symlink, nothing under off/)."""
    if not root.is_dir():
        raise TrainerError(f"the default corpus {root} is missing: apt-get install fortunes, or pass --text FILES")
    return [
        path for path in _folder_files(root)
        if path.suffix != FORTUNE_INDEX_SUFFIX and OFFENSIVE_FOLDER not in path.relative_to(root).parts[:-1]
    ]


def resolve_files(patterns: str) -> list[Path]:
    """Files named by comma-separated paths, globs or folders, in the order given, each once."""
    files: list[Path] = []
    for pattern in (item.strip() for item in patterns.split(",")):
        if not pattern:
            continue
        matches = [Path(match) for match in sorted(glob.glob(pattern, recursive=True))] or [Path(pattern)]
        for match in matches:
            if match.is_dir():
                files.extend(_folder_files(match))
            elif match.is_file():
                files.append(match)
            else:
                raise TrainerError(f"--text: '{pattern}' matches no file or folder")
    if not files:
        raise TrainerError(f"--text '{patterns}' names no text file")
    return list(dict.fromkeys(files))


def read_text_file(path: Path, encoding: str) -> str:
    """The text of one file; TrainerError if it is unreadable, binary or not valid in encoding."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TrainerError(f"cannot read {path}: {error.strerror}") from error
    if b"\0" in data[:BINARY_PROBE_BYTES]:
        raise TrainerError(f"{path} looks binary (it holds NUL bytes); pass text files only")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise TrainerError(
            f"{path} is not valid {encoding} at byte {error.start}: pass its real --encoding (e.g. latin-1)"
        ) from error


def _join(files: Iterable[Path], encoding: str) -> str:
    return "".join(read_text_file(path, encoding) for path in files)


def load_corpus(patterns: str | None, encoding: str, limit_chars: int | None = None) -> Corpus:
    """The corpus named by --text (or the default one), cut to limit_chars; TrainerError if it is empty."""
    files = resolve_files(patterns) if patterns else default_corpus_files()
    text = _join(files, encoding)[:limit_chars]
    source = patterns or f"{DEFAULT_CORPUS} (Debian fortunes, plain files)"
    if not text.strip():
        raise TrainerError(f"the corpus {source} is empty (no characters besides white space)")
    return Corpus(text=text, files=tuple(files), encoding=encoding, source=source)
