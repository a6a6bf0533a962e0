"""The source: watches each model's base path and emits the versions its policy aspires to.

TF Serving's FileSystemStoragePathSource. It owns its polling thread and knows nothing of loading: on
every poll it lists the numeric version directories, applies the model's version policy, and hands the
aspired versions of each model to a callback (the manager's ``set_aspired_versions``). It polls at once
whenever the set of watched models changes, then every ``--file_system_poll_wait_seconds`` if that is
positive; with 0 or less the base paths are read only when the models change.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

from tensorflow_serving.config import file_system_storage_path_source_pb2, model_server_config_pb2

ServableVersionPolicy = file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig.ServableVersionPolicy
ModelConfig = model_server_config_pb2.ModelConfig
AspiredVersionsCallback = Callable[[str, dict[int, str]], None]
Span = Callable[[str], AbstractContextManager]
JOIN_SECONDS = 30.0
POLL_SPAN = "FileSystemStoragePathSource::Poll"
"""The poll's name in profiler traces: the server's own periodic work, so an idle server's trace is not empty."""

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


class FileSystemSource:
    """Polls the watched models' base paths and reports each model's aspired versions when they change."""

    def __init__(self, poll_wait_seconds: float, on_aspired: AspiredVersionsCallback, span: Span = nullcontext) -> None:
        """`span(name)` wraps each timed poll (the server passes the profiler's, so traces show the polls)."""
        self.poll_wait_seconds = poll_wait_seconds
        self._on_aspired = on_aspired
        self._span = span
        self._models: dict[str, ModelConfig] = {}
        self._emitted: dict[str, dict[int, str]] = {}
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def polls_again(self) -> bool:
        """Whether base paths are re-read on a timer (else only when the models change)."""
        return self.poll_wait_seconds > 0

    def set_models(self, models: Sequence[ModelConfig]) -> None:
        """Watch exactly these models from now on, and poll them all at once."""
        with self._poll_lock:
            self._models = {model.name: model for model in models}
            self._emitted = {name: versions for name, versions in self._emitted.items() if name in self._models}
            self._poll(force=True)

    def start(self) -> None:
        """Start the polling thread (only when polling is periodic)."""
        if self.polls_again and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="version-source", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop polling and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_SECONDS)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_wait_seconds):
            try:
                with self._poll_lock, self._span(POLL_SPAN):
                    self._poll(force=False)
            except Exception:  # noqa: BLE001 - the thread must survive any one bad poll
                log.exception("Polling the model base paths failed")

    def _poll(self, force: bool) -> None:
        for name, model in self._models.items():
            try:
                found = discover_versions(model.base_path)
            except BasePathMissing as error:
                log.error("FileSystemStoragePathSource encountered a filesystem access error: %s", error)
                continue
            aspired = aspired_versions(found, model.model_version_policy)
            previous = self._emitted.get(name)
            if not found and previous != {}:
                log.warning(
                    "No versions of servable %s found under base path %s. Did you forget to name your leaf "
                    "directory as a number (eg. '/1/')?", name, model.base_path,
                )
            if force or aspired != previous:
                self._emitted[name] = aspired
                self._on_aspired(name, aspired)
