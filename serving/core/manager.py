"""The manager: turns each model's aspired versions into loaded servables (TF Serving's AspiredVersionsManager).

The source tells it which versions each model should have (``set_aspired_versions``); it loads new ones on
a pool of load threads, retries failed loads, and unloads versions no longer aspired with TF Serving's
availability-preserving policy: a new version is loaded before the old one goes, and if it fails the old
one keeps serving. Its lock guards only bookkeeping: a load (and its warmup) runs outside it, and the
result is published to the serving map, where requests look servables up, by swapping a reference.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
from tensorflow_serving.apis import get_model_status_pb2

from serving.core.heap import settle_heap
from serving.core.servable import Servable
from serving.core.serving_map import ServingMap
from serving.errors import ServingError, not_found

State = get_model_status_pb2.ModelVersionStatus.State
Loader = Callable[[str, int, str], Servable]
CPUS = os.cpu_count() or 1
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManagerOptions:
    """Load threads and retries, named after TensorFlow Serving's flags and ServerCore options."""

    num_load_threads: int = 0
    num_initial_load_threads: int = 4 * CPUS
    max_num_load_retries: int = 5
    load_retry_interval_seconds: float = 60.0


@dataclass
class VersionRecord:
    """The life of one version, as GetModelStatus reports it: state and last error."""

    version: int
    path: str
    state: int = State.START
    error: ServingError | None = None
    failed_attempts: int = 0


@dataclass
class ModelVersions:
    """One model's aspired versions, their records, and the servables loaded for it."""

    aspired: dict[int, str] = field(default_factory=dict)
    records: dict[int, VersionRecord] = field(default_factory=dict)
    loaded: dict[int, Servable] = field(default_factory=dict)

    def settled(self) -> bool:
        """Some version is aspired, and every aspired version is AVAILABLE or has finally failed (END)."""
        return bool(self.aspired) and all(
            version in self.records and self.records[version].state in (State.AVAILABLE, State.END)
            for version in self.aspired
        )


class AspiredVersionsManager:
    """Loads and unloads versions as the source asks; thread-safe; no lock is held while loading."""

    def __init__(self, loader: Loader, serving_map: ServingMap, options: ManagerOptions) -> None:
        self._loader = loader
        self._serving_map = serving_map
        self._options = options
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._models: dict[str, ModelVersions] = {}
        self._stopping = threading.Event()
        self._executor = self._new_executor(options.num_initial_load_threads)
        self._retired_executors: list[ThreadPoolExecutor] = []

    @staticmethod
    def _new_executor(threads: int) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=max(threads, 1), thread_name_prefix="load")

    def end_initial_loads(self) -> None:
        """After start-up, load with ``--num_load_threads`` threads (0: one at a time) instead of the initial pool."""
        with self._lock:
            self._executor.shutdown(wait=False)
            self._retired_executors.append(self._executor)
            self._executor = self._new_executor(self._options.num_load_threads)

    # ---- what the server core and the source say -----------------------------------------------
    def set_models(self, names: list[str]) -> None:
        """Manage exactly these models: add new ones, unload every version of the ones left out."""
        with self._changed:
            for name in [name for name in self._models if name not in names]:
                self._remove(name)
            for name in names:
                self._models.setdefault(name, ModelVersions())
            self._changed.notify_all()

    def set_aspired_versions(self, name: str, versions: dict[int, str]) -> None:
        """The source's callback: these versions of `name` should be served, and no others."""
        with self._changed:
            model = self._models.get(name)
            if model is None or self._stopping.is_set():
                return
            model.aspired = dict(versions)
            for version in sorted(versions, reverse=True):
                record = model.records.get(version)
                if record is None or (record.state == State.END and record.error is None):
                    record = model.records[version] = VersionRecord(version=version, path=versions[version])
                    self._executor.submit(self._load_version, name, record)
            unloaded = self._unload_unaspired(name, model)
            self._changed.notify_all()
        if unloaded:
            settle_heap()

    def _remove(self, name: str) -> None:
        model = self._models.pop(name)
        model.aspired = {}
        for version in list(model.loaded):
            self._mark_unloaded(name, model, version)
        self._serving_map.remove(name)

    # ---- loading (on a load thread, outside the lock) -----------------------------------------
    def _load_version(self, name: str, record: VersionRecord) -> None:
        """Load one version, retrying as the options say; publish it if it is still wanted."""
        attempt = 0
        while self._begin_attempt(name, record):
            attempt += 1
            log.info("Loading servable version {name: %s version: %d} from %s", name, record.version, record.path)
            try:
                servable = self._loader(name, record.version, record.path)
            except Exception as error:  # noqa: BLE001 - any loader failure is this version's error, not the server's
                if not self._record_failure(name, record, as_serving_error(error), attempt):
                    return
                self._stopping.wait(self._options.load_retry_interval_seconds)
                continue
            self._publish(name, record, servable)
            return

    def _begin_attempt(self, name: str, record: VersionRecord) -> bool:
        """Mark the version LOADING, or END it if it is no longer wanted (un-aspired, removed, stopping)."""
        with self._changed:
            if not self._wanted(name, record):
                record.state = State.END
                self._changed.notify_all()
                return False
            record.state = State.LOADING
            return True

    def _wanted(self, name: str, record: VersionRecord) -> bool:
        model = self._models.get(name)
        return (
            not self._stopping.is_set()
            and model is not None
            and model.records.get(record.version) is record
            and record.version in model.aspired
        )

    def _record_failure(self, name: str, record: VersionRecord, error: ServingError, attempt: int) -> bool:
        """Keep the error; return whether to retry."""
        log.error(
            "Loading servable version {name: %s version: %d} failed (attempt %d): %s",
            name, record.version, attempt, error.message,
        )
        with self._changed:
            record.failed_attempts, record.error = attempt, error
            retry = attempt <= self._options.max_num_load_retries and self._wanted(name, record)
            record.state = State.START if retry else State.END
            model = self._models.get(name)
            if model is not None:
                self._unload_unaspired(name, model)
            self._changed.notify_all()
            return retry

    def _publish(self, name: str, record: VersionRecord, servable: Servable) -> None:
        with self._changed:
            model = self._models.get(name)
            if not self._wanted(name, record) or model is None:
                record.state = State.END
                self._changed.notify_all()
                return
            record.state, record.error = State.AVAILABLE, None
            model.loaded[record.version] = servable
            self._unload_unaspired(name, model)
            self._serving_map.publish(name, model.loaded)
            self._changed.notify_all()
        log.info("Successfully loaded servable version {name: %s version: %d}", name, record.version)
        settle_heap()

    # ---- unloading (under the lock: only references change) -----------------------------------
    def _unload_unaspired(self, name: str, model: ModelVersions) -> bool:
        """Availability-preserving: unload un-aspired versions, except the last one while nothing aspired is ready."""
        aspired_ready = any(version in model.loaded for version in model.aspired)
        unloaded = False
        for version in sorted(model.loaded):
            if version in model.aspired:
                continue
            if model.aspired and len(model.loaded) == 1 and not aspired_ready:
                continue
            self._mark_unloaded(name, model, version)
            unloaded = True
        if unloaded:
            self._serving_map.publish(name, model.loaded)
        return unloaded

    @staticmethod
    def _mark_unloaded(name: str, model: ModelVersions, version: int) -> None:
        del model.loaded[version]
        record = model.records[version]
        record.state, record.error = State.END, None
        log.info("Unloaded servable version {name: %s version: %d}", name, version)

    # ---- waiting and reporting ----------------------------------------------------------------
    def wait_until_settled(self, names: list[str], timeout: float) -> bool:
        """Wait at most `timeout` seconds (less if the manager stops) until every named model is settled;
        return whether they are."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(name in self._models and self._models[name].settled() for name in names):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    return False
                self._changed.wait(remaining)
        return True

    def unsettled(self, names: list[str]) -> list[str]:
        """The named models that have no aspired version, or some aspired version still loading."""
        with self._lock:
            return [name for name in names if name not in self._models or not self._models[name].settled()]

    def without_versions(self, names: list[str]) -> list[str]:
        """The named models whose source found no version to aspire to."""
        with self._lock:
            return [name for name in names if name in self._models and not self._models[name].aspired]

    def failed_versions(self, names: list[str]) -> list[tuple[str, ServingError]]:
        """(description, error) of every aspired version of the named models that ended in an error."""
        with self._lock:
            return [
                (f"{{name: {name} version: {record.version}}} due to error: {record.error.message}", record.error)
                for name in names if name in self._models
                for record in self._models[name].records.values()
                if record.version in self._models[name].aspired and record.state == State.END and record.error
            ]

    def version_status(self, name: str, version: int | None = None) -> list[VersionRecord]:
        """Every known version of a model (or one), as GetModelStatus reports them."""
        with self._lock:
            model = self._models.get(name)
            if model is None or not model.records:
                raise not_found(f"Could not find any versions of model {name}")
            if version is None:
                return sorted(model.records.values(), key=lambda record: record.version, reverse=True)
            if version not in model.records:
                raise not_found(f"Could not find version {version} of model {name}")
            return [model.records[version]]

    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def stop(self) -> None:
        """Cancel pending loads and retries, wait for loads in progress, and join every load thread."""
        with self._changed:
            self._stopping.set()
            executors = [*self._retired_executors, self._executor]
            self._changed.notify_all()
        for executor in executors:
            executor.shutdown(wait=True, cancel_futures=True)


def as_serving_error(error: Exception) -> ServingError:
    """A loader's exception as the version's error."""
    if isinstance(error, ServingError):
        return error
    return ServingError(grpc.StatusCode.UNKNOWN, f"{type(error).__name__}: {error}")
