"""ServerCore: wires the source, the manager and the serving map, and applies whole model configs to them.

As TF Serving's ``ServerCore::Create(Options)``: the source's aspired versions flow to the manager, the
manager publishes loaded servables to the serving map, and the API handlers read that map. The config in
force changes at start-up, on ReloadConfig, or when the config file changes on disk; every wait for models
has a bound, and the core owns (starts, stops and joins) the source's and the config file's threads.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import grpc

from serving.config.allowed_paths import check_base_paths_allowed
from serving.config.model_config import ModelServerConfig, check_platforms_unchanged, read_model_server_config, validate
from serving.core.manager import AspiredVersionsManager, Loader, ManagerOptions
from serving.core.serving_map import ServingMap
from serving.core.source import JOIN_SECONDS, FileSystemSource
from serving.errors import ServingError
from serving.tf_runtime import traced

STARTUP_CHECK_SECONDS = 1.0
log = logging.getLogger(__name__)


class StartupFailed(Exception):
    """Some initial model version did not become available; the server must not open its ports."""


@dataclass(frozen=True)
class ServerCoreOptions:
    """TF Serving's ServerCore::Options that we honour, named after their flags."""

    manager: ManagerOptions = field(default_factory=ManagerOptions)
    file_system_poll_wait_seconds: float = 1.0
    model_config_file: str = ""
    model_config_file_poll_wait_seconds: float = 0.0
    allow_version_labels_for_unavailable_models: bool = False
    max_reload_wait_seconds: float = 300.0
    allowed_base_paths: tuple[str, ...] = ()
    """Directories outside which no model base path is accepted (empty: any)."""


class ServerCore:
    """The model config in force, and the parts that make it true."""

    def __init__(self, options: ServerCoreOptions, loader: Loader, serving_map: ServingMap) -> None:
        self.serving_map = serving_map
        self.manager = AspiredVersionsManager(loader, serving_map, options.manager)
        self._source = FileSystemSource(options.file_system_poll_wait_seconds, self.manager.set_aspired_versions, traced)
        self._options = options
        self._config = ModelServerConfig()
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._config_poller: threading.Thread | None = None

    @property
    def config(self) -> ModelServerConfig:
        return self._config

    def start(self, config: ModelServerConfig) -> None:
        """Apply the initial config and wait until every model is served or has failed, as TF Serving does
        before it opens its ports; then watch the config file if asked to."""
        with self._reload_lock:
            self._apply(config)
            self._source.start()
            names = model_names(config)
            log.info("Waiting for the initial models to load: %s", ", ".join(names))
            self._wait_for_initial_models(names)
            failures = self.manager.failed_versions(names)
            if failures:
                raise StartupFailed(
                    f"Failed to start server. Error: {len(failures)} servable(s) did not become available: "
                    + "; ".join(description for description, _ in failures)
                )
            self._assign_labels(config, initial=True)
        self.manager.end_initial_loads()
        self._start_config_poller()

    def _wait_for_initial_models(self, names: list[str]) -> None:
        """Wait in bounded steps; fail when a model has no version and nothing will look for one again."""
        while not self.manager.wait_until_settled(names, STARTUP_CHECK_SECONDS):
            missing = self.manager.without_versions(names)
            if missing and not self._source.polls_again:
                raise StartupFailed(
                    f"Failed to start server. Error: no versions of model(s) {', '.join(missing)} found under their "
                    f"base paths, and with --file_system_poll_wait_seconds="
                    f"{self._options.file_system_poll_wait_seconds:g} they are not looked for again"
                )

    def reload(self, config: ModelServerConfig, timeout: float | None = None) -> None:
        """Replace the config; wait until newly added models are available (ReloadConfig semantics), at most
        `timeout` seconds (the RPC's deadline) and never longer than the server's maximum."""
        wait = self._options.max_reload_wait_seconds if timeout is None else min(timeout, self._options.max_reload_wait_seconds)
        deadline = time.monotonic() + wait
        if wait <= 0:
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded before the config reload began")
        if not self._reload_lock.acquire(timeout=wait):
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Another model config reload is still in progress")
        try:
            validate(config)
            check_platforms_unchanged(self._config, config)
            added = [name for name in model_names(config) if name not in model_names(self._config)]
            self._apply(config)
            if not self.manager.wait_until_settled(added, max(deadline - time.monotonic(), 0.0)):
                pending = self.manager.unsettled(added)
                raise ServingError(
                    grpc.StatusCode.UNKNOWN,
                    f"{len(pending)} model(s) did not become available: {{{', '.join(pending)}}}",
                )
            failures = self.manager.failed_versions(added)
            if failures:
                raise ServingError(failures[0][1].code, "; ".join(description for description, _ in failures))
            self._assign_labels(config, initial=False)
        finally:
            self._reload_lock.release()

    def reload_from_file(self, path: str) -> None:
        """Re-read the config file; a bad file is logged and the config in force is kept."""
        try:
            config = read_model_server_config(path)
            if config == self._config:
                return
            log.info("Model config file %s changed; reloading", path)
            self.reload(config)
        except ServingError as error:
            log.error("Keeping the current model config: %s", error.message)

    def is_ready(self) -> bool:
        """Every configured model has at least one version serving (readiness)."""
        return self.serving_map.all_available(model_names(self._config))

    def stop(self) -> None:
        """Stop watching the config file and the base paths, stop loading, and join every thread."""
        self._stop.set()
        self._source.stop()
        self.manager.stop()
        if self._config_poller is not None:
            self._config_poller.join(JOIN_SECONDS)

    def _apply(self, config: ModelServerConfig) -> None:
        validate(config)
        check_base_paths_allowed(config, self._options.allowed_base_paths)
        self.manager.set_models(model_names(config))
        self._source.set_models(list(config.model_config_list.config))
        self._config = config

    def _assign_labels(self, config: ModelServerConfig, initial: bool) -> None:
        """Point each model's labels at versions; a label must name an AVAILABLE version unless allowed."""
        for model in config.model_config_list.config:
            current = self.serving_map.labels(model.name)
            allowed = {
                label for label in model.version_labels
                if self._options.allow_version_labels_for_unavailable_models and (initial or label not in current)
            }
            self.serving_map.assign_labels(model.name, dict(model.version_labels), allowed)

    def _start_config_poller(self) -> None:
        path, seconds = self._options.model_config_file, self._options.model_config_file_poll_wait_seconds
        if not path or seconds <= 0:
            return

        def poll() -> None:
            while not self._stop.wait(seconds):
                self.reload_from_file(path)

        self._config_poller = threading.Thread(target=poll, name="config-poller", daemon=True)
        self._config_poller.start()


def model_names(config: ModelServerConfig) -> list[str]:
    return [model.name for model in config.model_config_list.config]
