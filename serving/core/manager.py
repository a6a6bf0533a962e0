"""The model manager: which versions of which models are loaded, their states, labels and handles.

Layered like TensorFlow Serving: the source (``source.py``) says which versions are aspired, this
manager loads and unloads them with the availability-preserving policy (a new version is loaded
before the old one goes; if it fails, the old one keeps serving), and the API handlers only look
servables up here.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import grpc
from tensorflow_serving.apis import get_model_status_pb2

from serving.config.model_config import ModelConfig, ModelServerConfig, check_platforms_unchanged, validate
from serving.core.heap import settle_heap
from serving.core.servable import Servable
from serving.core.source import BasePathMissing, aspired_versions, discover_versions
from serving.errors import ServingError, failed_precondition, invalid_argument, not_found
from serving.tf_runtime import traced

State = get_model_status_pb2.ModelVersionStatus.State
Loader = Callable[[str, int, str], Servable]
log = logging.getLogger(__name__)


@dataclass
class ManagerOptions:
    """Load retries and label rules, named after TensorFlow Serving's flags."""

    max_num_load_retries: int = 5
    load_retry_interval_seconds: float = 60.0
    allow_version_labels_for_unavailable_models: bool = False


@dataclass
class VersionRecord:
    """The life of one version: state, last error, the loaded servable, and load retries."""

    version: int
    path: str
    state: int = State.START
    error: ServingError | None = None
    servable: Servable | None = None
    failed_attempts: int = 0
    next_attempt_at: float = 0.0


@dataclass
class ModelEntry:
    config: ModelConfig
    records: dict[int, VersionRecord] = field(default_factory=dict)
    aspired: dict[int, str] = field(default_factory=dict)
    available: dict[int, Servable] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        """Every aspired version is AVAILABLE or has finally failed (END)."""
        return all(
            version in self.records and self.records[version].state in (State.AVAILABLE, State.END)
            for version in self.aspired
        )


class ModelManager:
    """Owns every model's versions; thread-safe; lookups never wait for a load."""

    def __init__(self, loader: Loader, options: ManagerOptions | None = None) -> None:
        self._loader = loader
        self._options = options or ManagerOptions()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._models: dict[str, ModelEntry] = {}
        self._config = ModelServerConfig()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._heap_changed = False

    # ---- configuration -------------------------------------------------------------------------
    @property
    def config(self) -> ModelServerConfig:
        return self._config

    def apply_config(self, config: ModelServerConfig, allow_new_unavailable_labels: bool = False) -> list[str]:
        """Replace the whole config, load new models, unload dropped ones; return the added names."""
        validate(config)
        with self._lock:
            check_platforms_unchanged(self._config, config)
            wanted = {model.name: model for model in config.model_config_list.config}
            for name in [name for name in self._models if name not in wanted]:
                self._remove_model(name)
            added = [name for name in wanted if name not in self._models]
            for name, model in wanted.items():
                entry = self._models.setdefault(name, ModelEntry(config=model))
                entry.config = model
            self._config = config
            self.reconcile(discover=True)
        return added

    def assign_labels(self, config: ModelServerConfig, initial: bool) -> None:
        """Point each model's labels at versions; a label must name an AVAILABLE version."""
        with self._lock:
            for model in config.model_config_list.config:
                entry = self._models[model.name]
                for label, version in model.version_labels.items():
                    if version not in entry.available and not self._may_label_unavailable(entry, label, initial):
                        raise failed_precondition(
                            f"Request to assign label to version {version} of model {model.name}, "
                            "which is not currently available for inference"
                        )
                entry.labels = dict(model.version_labels)

    def _may_label_unavailable(self, entry: ModelEntry, label: str, initial: bool) -> bool:
        is_new = label not in entry.labels
        return self._options.allow_version_labels_for_unavailable_models and (is_new or initial)

    def _remove_model(self, name: str) -> None:
        entry = self._models.pop(name)
        for record in entry.records.values():
            self._unload(entry, record)

    # ---- version transitions -------------------------------------------------------------------
    def reconcile(self, discover: bool) -> None:
        """One manager tick: refresh aspired versions, load what is new, unload what is not aspired."""
        with self._lock:
            for entry in list(self._models.values()):
                if discover:
                    self._refresh_aspired(entry)
                self._load_aspired(entry)
                self._unload_unaspired(entry)
            if self._heap_changed:
                self._heap_changed = False
                settle_heap()
            self._changed.notify_all()

    def _refresh_aspired(self, entry: ModelEntry) -> None:
        base_path = entry.config.base_path
        try:
            found = discover_versions(base_path)
        except BasePathMissing as error:
            log.error("FileSystemStoragePathSource encountered a filesystem access error: %s", error)
            return
        if not found and entry.aspired:
            log.warning(
                "No versions of servable %s found under base path %s. Did you forget to name your leaf "
                "directory as a number (eg. '/1/')?", entry.config.name, base_path,
            )
        entry.aspired = aspired_versions(found, entry.config.model_version_policy)
        for version, path in entry.aspired.items():
            record = entry.records.get(version)
            if record is None or (record.state == State.END and record.error is None):
                entry.records[version] = VersionRecord(version=version, path=path)

    def _load_aspired(self, entry: ModelEntry) -> None:
        now = time.monotonic()
        for version in sorted(entry.aspired, reverse=True):
            record = entry.records[version]
            if record.state == State.START and record.next_attempt_at <= now:
                self._load(entry, record)

    def _load(self, entry: ModelEntry, record: VersionRecord) -> None:
        name = entry.config.name
        record.state = State.LOADING
        log.info("Loading servable version {name: %s version: %d} from %s", name, record.version, record.path)
        try:
            servable = self._loader(name, record.version, record.path)
        except ServingError as error:
            self._record_failure(entry, record, error)
            return
        except Exception as error:  # noqa: BLE001 - any loader failure is this version's error, not the server's
            self._record_failure(entry, record, ServingError(grpc.StatusCode.UNKNOWN, f"{type(error).__name__}: {error}"))
            return
        record.state, record.servable, record.error = State.AVAILABLE, servable, None
        entry.available = {**entry.available, record.version: servable}
        self._heap_changed = True
        log.info("Successfully loaded servable version {name: %s version: %d}", name, record.version)

    def _record_failure(self, entry: ModelEntry, record: VersionRecord, error: ServingError) -> None:
        record.failed_attempts += 1
        record.error = error
        retries_left = record.failed_attempts <= self._options.max_num_load_retries
        log.error(
            "Loading servable version {name: %s version: %d} failed (attempt %d): %s",
            entry.config.name, record.version, record.failed_attempts, error.message,
        )
        if retries_left:
            record.state = State.START
            record.next_attempt_at = time.monotonic() + self._options.load_retry_interval_seconds
        else:
            record.state = State.END

    def _unload_unaspired(self, entry: ModelEntry) -> None:
        aspired_ready = any(version in entry.available for version in entry.aspired)
        for version in sorted(entry.available):
            if version in entry.aspired:
                continue
            only_one_left = len(entry.available) == 1
            if entry.aspired and only_one_left and not aspired_ready:
                continue
            self._unload(entry, entry.records[version])

    def _unload(self, entry: ModelEntry, record: VersionRecord) -> None:
        if record.state != State.AVAILABLE:
            return
        record.state = State.UNLOADING
        entry.available = {key: value for key, value in entry.available.items() if key != record.version}
        record.servable = None
        record.state, record.error = State.END, None
        self._heap_changed = True
        log.info("Unloaded servable version {name: %s version: %d}", entry.config.name, record.version)

    # ---- waiting and polling ------------------------------------------------------------------
    def wait_until_settled(self, names: list[str] | None = None, timeout: float | None = None) -> bool:
        """Block until the named models (default: all) have every aspired version AVAILABLE or END."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not all(self._models[name].settled and self._models[name].aspired for name in self._names(names)):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(timeout=1.0 if remaining is None else min(remaining, 1.0))
        return True

    def failed_versions(self, names: list[str] | None = None) -> list[tuple[str, ServingError]]:
        """(description, error) of every aspired version that ended in an error."""
        with self._lock:
            return [
                (f"{{name: {name} version: {record.version}}} due to error: {record.error.message}", record.error)
                for name in self._names(names)
                for record in self._models[name].records.values()
                if record.version in self._models[name].aspired and record.state == State.END and record.error
            ]

    def _names(self, names: list[str] | None) -> list[str]:
        return [name for name in (names if names is not None else list(self._models)) if name in self._models]

    def start_polling(self, poll_seconds: float) -> None:
        """Re-scan base paths every ``poll_seconds`` (> 0); retries of failed loads run on the same loop."""
        self._poller = threading.Thread(target=self._poll_loop, args=(poll_seconds,), name="version-poller", daemon=True)
        self._poller.start()

    def _poll_loop(self, poll_seconds: float) -> None:
        next_discovery = time.monotonic() + poll_seconds if poll_seconds > 0 else float("inf")
        tick = min(poll_seconds, 0.5) if poll_seconds > 0 else 0.5
        while not self._stop.wait(tick):
            discover = time.monotonic() >= next_discovery
            if discover:
                next_discovery = time.monotonic() + poll_seconds
            try:
                with traced("ModelManager::Reconcile"):
                    self.reconcile(discover=discover)
            except Exception:  # noqa: BLE001 - the loop must survive any one bad tick
                log.exception("Version reconciliation failed")

    def stop(self) -> None:
        self._stop.set()

    # ---- lookups ----------------------------------------------------------------------------
    def servable(self, name: str, version: int | None = None, label: str | None = None) -> Servable:
        """The servable a request names; TensorFlow Serving's NOT_FOUND / INVALID_ARGUMENT otherwise."""
        if not name:
            raise invalid_argument("ModelSpec has no name specified.")
        entry = self._models.get(name)
        if label:
            version = self._label_version(entry, label)
        if version is not None:
            servable = entry.available.get(version) if entry else None
            if servable is None:
                raise not_found(f"Servable not found for request: Specific({name}, {version})")
            return servable
        available = entry.available if entry else {}
        if not available:
            raise not_found(f"Servable not found for request: Latest({name})")
        return available[max(available)]

    @staticmethod
    def _label_version(entry: ModelEntry | None, label: str) -> int:
        if entry is None or label not in entry.labels:
            raise invalid_argument(f"Unrecognized servable version label: {label}")
        return entry.labels[label]

    def version_status(self, name: str, version: int | None = None) -> list[VersionRecord]:
        """Every known version of a model (or one), as GetModelStatus reports them."""
        with self._lock:
            entry = self._models.get(name)
            if entry is None or not entry.records:
                raise not_found(f"Could not find any versions of model {name}")
            if version is None:
                return sorted(entry.records.values(), key=lambda record: record.version, reverse=True)
            if version not in entry.records:
                raise not_found(f"Could not find version {version} of model {name}")
            return [entry.records[version]]

    def model_names(self) -> list[str]:
        return sorted(self._models)

    def labels(self, name: str) -> dict[str, int]:
        entry = self._models.get(name)
        return dict(entry.labels) if entry else {}

    def all_models_available(self) -> bool:
        """True when every configured model has at least one AVAILABLE version (readiness)."""
        with self._lock:
            return bool(self._models) and all(entry.available for entry in self._models.values())
