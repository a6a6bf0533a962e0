"""The on-disk layout of exports: `<export_root>/<model_name>/<version>/`, TensorFlow Serving's own.

Pure file-system logic (no TensorFlow), so configs can validate names and jobs can check the target before
training. Versions are published by renaming a hidden `.tmp-*` sibling, which TF Serving ignores.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from trainer.errors import TrainerError

MODEL_JSON = Path("assets.extra") / "model.json"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
TEMP_PREFIX = ".tmp-"
UNOWNED_TEMP_STALE_SECONDS = 3600
"""A `.tmp-*` folder that names no writer process (made before names carried one) is stale after this long."""
_MODEL_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def validate_model_name(name: str) -> str:
    """Return name if it is a safe directory name ([A-Za-z0-9_.-]+, no '..'), else raise TrainerError."""
    if not _MODEL_NAME.fullmatch(name) or ".." in name:
        raise TrainerError(f"model name '{name}' must match [A-Za-z0-9_.-]+ and must not contain '..'")
    return name


def model_dir(export_root: Path, name: str) -> Path:
    """The folder that holds every version of model `name`."""
    return export_root / validate_model_name(name)


def existing_versions(directory: Path) -> dict[int, Path]:
    """The numeric version folders in directory, by version number (as TF Serving parses them)."""
    if not directory.is_dir():
        return {}
    return {int(child.name): child for child in directory.iterdir() if child.name.isdigit() and child.is_dir()}


def next_version(directory: Path) -> int:
    """One higher than the highest existing version, or 1."""
    return max(existing_versions(directory), default=0) + 1


def _family_of(version_dir: Path) -> str | None:
    path = version_dir / MODEL_JSON
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("family")
    except (OSError, ValueError, AttributeError) as error:
        raise TrainerError(f"cannot read the family of existing export {path}: {error}") from error


def check_target(export_root: Path, name: str, family: str) -> Path:
    """The model folder for a new export of `name`, after checking the name, the paths and the family.

    Jobs call it before training, so a bad target fails in seconds rather than after hours.
    """
    directory = model_dir(export_root, name)
    for path in (export_root, directory):
        if path.exists() and not path.is_dir():
            raise TrainerError(f"{path} exists and is not a directory")
    check_family(directory, family)
    return directory


def check_family(directory: Path, family: str) -> None:
    """Refuse a model folder whose existing versions belong to another family, so clients never see a mix."""
    for version, version_dir in sorted(existing_versions(directory).items()):
        other = _family_of(version_dir)
        if other is not None and other != family:
            raise TrainerError(
                f"{directory} already holds version {version} of family '{other}', not '{family}'; "
                "choose another --model-name or --export-root"
            )


def make_temp_dir(directory: Path) -> Path:
    """Create directory (if needed) and a fresh hidden `.tmp-<pid>-*` folder inside it to write an export into.

    Temp folders left by exports whose process has died are removed first.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_dirs(directory)
        return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=directory))
    except OSError as error:
        raise TrainerError(f"cannot create an export under {directory}: {error.strerror}") from error


def remove_stale_temp_dirs(directory: Path) -> list[Path]:
    """Remove the `.tmp-*` folders of `directory` that no live process is writing; return them."""
    stale = [child for child in directory.iterdir() if child.name.startswith(TEMP_PREFIX) and _is_stale(child)]
    for child in stale:
        shutil.rmtree(child, ignore_errors=True)
    return stale


def _is_stale(temp_dir: Path) -> bool:
    writer = temp_dir.name[len(TEMP_PREFIX):].split("-", 1)[0]
    if not writer.isdigit():
        return time.time() - temp_dir.stat().st_mtime > UNOWNED_TEMP_STALE_SECONDS
    try:
        os.kill(int(writer), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def discard(temp_dir: Path) -> None:
    """Remove a failed export's temp folder, and the model folder too if that leaves it empty."""
    shutil.rmtree(temp_dir, ignore_errors=True)
    try:
        temp_dir.parent.rmdir()
    except OSError:
        pass


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(temp_dir: Path, version: int) -> Path:
    """Atomically rename temp_dir to its sibling `<version>`; refuse if that version appeared meanwhile.

    The version folder gets the permissions the umask allows (0755 under the usual 022), like the files
    in it, so a server running as another user can read it (mkdtemp made it 0700).
    """
    target = temp_dir.parent / str(version)
    if target.exists():
        raise TrainerError(f"{target} was created by another export while this one ran; export again")
    try:
        temp_dir.chmod(0o777 & ~_umask())
        os.rename(temp_dir, target)
    except OSError as error:
        raise TrainerError(f"cannot publish {target}: {error.strerror}") from error
    return target
