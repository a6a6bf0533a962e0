"""The manager on its own, with a scripted loader: loads outside the lock, retries, availability, cancellation."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from tensorflow_serving.apis import get_model_status_pb2

from serving.core.manager import AspiredVersionsManager, ManagerOptions
from serving.core.serving_map import ServingMap
from serving.errors import ServingError

State = get_model_status_pb2.ModelVersionStatus.State
BOUND = 10.0


class ScriptedLoader:
    """Loads `FakeServable`s; a version can be made to block until released, or to fail some times first."""

    def __init__(self) -> None:
        self.gates: dict[int, threading.Event] = {}
        self.failures_left: dict[int, int] = {}
        self.started: dict[int, threading.Event] = {}
        self.calls: list[int] = []

    def block(self, version: int) -> threading.Event:
        self.gates[version] = threading.Event()
        self.started[version] = threading.Event()
        return self.gates[version]

    def __call__(self, name: str, version: int, path: str):
        self.calls.append(version)
        if version in self.started:
            self.started[version].set()
        if version in self.gates:
            assert self.gates[version].wait(BOUND)
        if self.failures_left.get(version, 0) > 0:
            self.failures_left[version] -= 1
            raise ServingError(grpc.StatusCode.DATA_LOSS, f"version {version} is corrupt")
        return f"servable {name}/{version}"


def make_manager(loader: ScriptedLoader, **options) -> tuple[AspiredVersionsManager, ServingMap]:
    serving_map = ServingMap()
    manager = AspiredVersionsManager(loader, serving_map, ManagerOptions(num_initial_load_threads=4, **options))
    manager.set_models(["m", "other"])
    return manager, serving_map


@pytest.fixture
def start_manager():
    """Makes managers for a test and stops every one of them after it."""
    started: list[AspiredVersionsManager] = []

    def start(loader: ScriptedLoader, **options) -> tuple[AspiredVersionsManager, ServingMap]:
        manager, serving_map = make_manager(loader, **options)
        started.append(manager)
        return manager, serving_map

    yield start
    for manager in started:
        manager.stop()


def states(manager: AspiredVersionsManager, name: str = "m") -> dict[int, int]:
    return {record.version: record.state for record in manager.version_status(name)}


def test_status_and_lookups_answer_while_a_version_is_loading(start_manager):
    loader = ScriptedLoader()
    manager, serving_map = start_manager(loader)
    manager.set_aspired_versions("other", {1: "/other/1"})
    assert manager.wait_until_settled(["other"], BOUND)
    release = loader.block(1)
    manager.set_aspired_versions("m", {1: "/m/1"})
    assert loader.started[1].wait(BOUND)
    started = time.monotonic()
    assert states(manager) == {1: State.LOADING}
    assert serving_map.servable("other") == "servable other/1"
    assert not manager.wait_until_settled(["m"], 0.05)
    assert time.monotonic() - started < 1.0
    release.set()
    assert manager.wait_until_settled(["m"], BOUND)
    assert serving_map.servable("m") == "servable m/1"


def test_two_models_load_at_the_same_time(start_manager):
    loader = ScriptedLoader()
    manager, _ = start_manager(loader)
    first, second = loader.block(1), loader.block(2)
    manager.set_aspired_versions("m", {1: "/m/1"})
    manager.set_aspired_versions("other", {2: "/other/2"})
    assert loader.started[1].wait(BOUND) and loader.started[2].wait(BOUND), "the second load waited for the first"
    first.set()
    second.set()
    assert manager.wait_until_settled(["m", "other"], BOUND)


def test_after_start_up_loads_take_turns_unless_more_load_threads_are_asked_for(start_manager):
    loader = ScriptedLoader()
    manager, _ = start_manager(loader)
    manager.end_initial_loads()
    first = loader.block(1)
    loader.block(2)
    manager.set_aspired_versions("m", {1: "/m/1"})
    manager.set_aspired_versions("other", {2: "/other/2"})
    assert loader.started[1].wait(BOUND)
    assert not loader.started[2].wait(0.3), "with --num_load_threads=0 versions load one at a time"
    first.set()
    loader.gates[2].set()
    assert manager.wait_until_settled(["m", "other"], BOUND)


def test_a_failed_load_is_retried_by_the_load_itself(start_manager):
    loader = ScriptedLoader()
    loader.failures_left[1] = 2
    manager, serving_map = start_manager(loader, max_num_load_retries=2, load_retry_interval_seconds=0.01)
    manager.set_aspired_versions("m", {1: "/m/1"})
    assert manager.wait_until_settled(["m"], BOUND)
    assert loader.calls == [1, 1, 1]
    assert states(manager) == {1: State.AVAILABLE}
    assert serving_map.servable("m", version=1) == "servable m/1"


def test_a_version_that_keeps_failing_ends_with_its_error_and_the_old_one_serves(start_manager):
    loader = ScriptedLoader()
    loader.failures_left[2] = 99
    manager, serving_map = start_manager(loader, max_num_load_retries=1, load_retry_interval_seconds=0.01)
    manager.set_aspired_versions("m", {1: "/m/1"})
    assert manager.wait_until_settled(["m"], BOUND)
    manager.set_aspired_versions("m", {2: "/m/2"})
    assert manager.wait_until_settled(["m"], BOUND)
    record = manager.version_status("m", 2)[0]
    assert record.state == State.END and "version 2 is corrupt" in record.error.message
    assert serving_map.servable("m") == "servable m/1"
    assert [description for description, _ in manager.failed_versions(["m"])] == [
        "{name: m version: 2} due to error: version 2 is corrupt"
    ]


def test_a_new_version_replaces_the_old_one_only_once_it_is_loaded(start_manager):
    loader = ScriptedLoader()
    manager, serving_map = start_manager(loader)
    manager.set_aspired_versions("m", {1: "/m/1"})
    assert manager.wait_until_settled(["m"], BOUND)
    release = loader.block(2)
    manager.set_aspired_versions("m", {2: "/m/2"})
    assert loader.started[2].wait(BOUND)
    assert serving_map.servable("m") == "servable m/1"
    release.set()
    assert manager.wait_until_settled(["m"], BOUND)
    assert states(manager) == {2: State.AVAILABLE, 1: State.END}
    assert serving_map.servable("m") == "servable m/2"


def test_a_version_no_longer_aspired_while_loading_is_not_published(start_manager):
    loader = ScriptedLoader()
    manager, serving_map = start_manager(loader)
    release = loader.block(1)
    manager.set_aspired_versions("m", {1: "/m/1"})
    assert loader.started[1].wait(BOUND)
    manager.set_aspired_versions("m", {})
    release.set()
    deadline = time.monotonic() + BOUND
    while states(manager)[1] != State.END and time.monotonic() < deadline:
        time.sleep(0.01)
    assert states(manager) == {1: State.END}
    assert not serving_map.versions("m")


def test_stop_cancels_a_pending_retry_at_once_and_joins_the_load_threads(start_manager):
    before = set(threading.enumerate())
    loader = ScriptedLoader()
    loader.failures_left[1] = 99
    manager, _ = start_manager(loader, max_num_load_retries=5, load_retry_interval_seconds=60.0)
    manager.set_aspired_versions("m", {1: "/m/1"})
    deadline = time.monotonic() + BOUND
    while not loader.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    manager.stop()
    assert time.monotonic() - started < 5.0
    assert not [thread for thread in threading.enumerate() if thread not in before]


def test_removed_models_are_unloaded_and_forgotten(start_manager):
    loader = ScriptedLoader()
    manager, serving_map = start_manager(loader)
    manager.set_aspired_versions("m", {1: "/m/1"})
    assert manager.wait_until_settled(["m"], BOUND)
    manager.set_models(["other"])
    assert manager.model_names() == ["other"]
    with pytest.raises(ServingError) as error:
        serving_map.servable("m")
    assert error.value.code == grpc.StatusCode.NOT_FOUND
