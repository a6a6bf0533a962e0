"""ServerCore: the model config in force, applied to the manager at startup, on ReloadConfig, or when
the config file changes on disk."""

from __future__ import annotations

import logging
import threading

from serving.config.model_config import ModelServerConfig, read_model_server_config
from serving.core.manager import ModelManager
from serving.errors import ServingError

log = logging.getLogger(__name__)


class StartupFailed(Exception):
    """Some initial model version did not become available; the server must not open its ports."""


class ServerCore:
    """Applies whole ModelServerConfigs to the manager, one at a time."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager
        self._reload_lock = threading.Lock()

    def start(self, config: ModelServerConfig) -> None:
        """Load the initial config and wait for every model, as the real server does before listening."""
        with self._reload_lock:
            self.manager.apply_config(config)
            log.info("Waiting for the initial models to load: %s", ", ".join(self.manager.model_names()))
            self.manager.wait_until_settled()
            failures = self.manager.failed_versions()
            if failures:
                raise StartupFailed(
                    f"Failed to start server. Error: {len(failures)} servable(s) did not become available: "
                    + "; ".join(description for description, _ in failures)
                )
            self.manager.assign_labels(config, initial=True)

    def reload(self, config: ModelServerConfig, wait_seconds: float | None = None) -> None:
        """Replace the config; blocks until newly added models are available (ReloadConfig semantics)."""
        with self._reload_lock:
            added = self.manager.apply_config(config)
            self.manager.wait_until_settled(added, timeout=wait_seconds)
            failures = self.manager.failed_versions(added)
            if failures:
                first_error = failures[0][1]
                raise ServingError(first_error.code, "; ".join(description for description, _ in failures))
            self.manager.assign_labels(config, initial=False)

    def reload_from_file(self, path: str) -> None:
        """Re-read the config file; a bad file is logged and the config in force is kept."""
        try:
            config = read_model_server_config(path)
            if config == self.manager.config:
                return
            log.info("Model config file %s changed; reloading", path)
            self.reload(config)
        except ServingError as error:
            log.error("Keeping the current model config: %s", error.message)
