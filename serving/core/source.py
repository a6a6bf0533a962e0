"""Finds the versions under a model's base path and picks the aspired ones by version policy."""

from __future__ import annotations

import logging
import os

from tensorflow_serving.config import file_system_storage_path_source_pb2

ServableVersionPolicy = file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig.ServableVersionPolicy

log = logging.getLogger(__name__)


class BasePathMissing(Exception):
    """The base path cannot be listed; the aspired versions stay as they were."""


def parse_version(child: str) -> int | None:
    """Numeric directory names are versions (``00000123`` is 123); anything else is ignored."""
    if not child.isdigit() or not child.isascii():
        return None
    return int(child)


def discover_versions(base_path: str) -> dict[int, str]:
    """Map version number to directory for every numeric child of ``base_path``."""
    try:
        children = os.listdir(base_path)
    except OSError as error:
        raise BasePathMissing(f"Could not find base path {base_path}: {error.strerror}") from None
    versions: dict[int, str] = {}
    for child in sorted(children):
        version = parse_version(child)
        path = os.path.join(base_path, child)
        if version is None or not os.path.isdir(path):
            continue
        if version in versions:
            log.warning("Two directories map to version %d under %s; using %s", version, base_path, path)
        versions[version] = path
    return versions


def aspired_versions(found: dict[int, str], policy: ServableVersionPolicy) -> dict[int, str]:
    """The subset of ``found`` that the policy asks to serve (default: the latest one)."""
    kind = policy.WhichOneof("policy_choice")
    if kind == "all":
        return dict(found)
    if kind == "specific":
        wanted = set(policy.specific.versions)
        return {version: path for version, path in found.items() if version in wanted}
    count = max(policy.latest.num_versions, 1) if kind == "latest" else 1
    newest = sorted(found, reverse=True)[:count]
    return {version: found[version] for version in newest}
