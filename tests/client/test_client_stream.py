"""``python -m client stream``: pipelined frames keep their order, late frames are dropped and counted."""

from __future__ import annotations

import argparse
import random
import threading
import time

import cv2
import numpy as np
import pytest
import tensorflow as tf
from contract_model import CONTRACT, CONTRACT_MODEL, DIGIT_NAMES, target_of

from client import ServingClient
from client.errors import InputError
from client.images import fit_frame, load_images
from client.messages import SignatureSpec
from client.stream import add_stream_command, run_stream, stream_frames
from client.stream_frames import caption_lines, contract_labels, frame_preparer
from client.stream_output import WindowSink
from client.stream_pipeline import Pipeline, StreamStats
from client.stream_sources import limited, open_source

VIDEO_FRAMES = 20


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> str:
    """A 20-frame 64×64 MJPG video whose frame t is filled with grey level 10·t."""
    path = str(tmp_path_factory.mktemp("video") / "frames.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    assert writer.isOpened(), "this opencv cannot write MJPG"
    for index in range(VIDEO_FRAMES):
        writer.write(np.full((64, 64, 3), 10 * index, np.uint8))
    writer.release()
    return path


class SlowEcho:
    """A fake server call: sleeps a random few milliseconds, answers the frame's id, tracks concurrency."""

    def __init__(self, release: threading.Event | None = None) -> None:
        self.release = release
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        if self.release is not None:
            self.release.wait(5)
        time.sleep(random.uniform(0.001, 0.02))
        with self.lock:
            self.active -= 1
        return {"id": batch[:, 0]}


def numbered_frames(count: int, after_last: threading.Event | None = None):
    for index in range(count):
        yield np.array([index])
    if after_last is not None:
        after_last.set()


def test_pipelined_answers_come_back_in_frame_order_with_bounded_concurrency():
    echo = SlowEcho()
    delivered = list(Pipeline(echo, lambda frame: frame[np.newaxis], max_in_flight=4).run(numbered_frames(40)))
    assert [item.index for item in delivered] == list(range(40))
    assert [int(item.outputs["id"][0]) for item in delivered] == list(range(40))
    assert 1 < echo.most_active <= 4


def test_frames_arriving_while_the_window_is_full_are_dropped_and_counted_in_place():
    all_read = threading.Event()
    pipeline = Pipeline(SlowEcho(release=all_read), lambda frame: frame[np.newaxis], max_in_flight=2, drop_late=True)
    stats = StreamStats(warmup=0)
    delivered = []
    for item in pipeline.run(numbered_frames(VIDEO_FRAMES, after_last=all_read)):
        stats.add(item)
        delivered.append(item)
    assert [item.index for item in delivered] == list(range(VIDEO_FRAMES))
    assert [item.index for item in delivered if not item.dropped] == [0, 1]
    assert (stats.sent, stats.answered, stats.dropped) == (2, 2, VIDEO_FRAMES - 2)
    assert "dropped 18 (late)" in stats.summary()


def test_warmup_frames_are_left_out_of_the_timing_and_said_to_be():
    stats = StreamStats(warmup=3)
    for item in Pipeline(SlowEcho(), lambda frame: frame[np.newaxis], max_in_flight=1).run(numbered_frames(10)):
        stats.add(item)
    assert stats.answered == 10 and len(stats.latencies_ms) == 7
    assert all(latency >= 1.0 for latency in stats.latencies_ms)
    assert stats.frames_per_second > 0 and "first 3 answered frames excluded as warm-up" in stats.summary()


def test_a_frame_is_fitted_like_the_same_picture_read_from_a_file(tmp_path):
    picture = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    path = str(tmp_path / "picture.png")
    cv2.imwrite(path, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    spec = tf.TensorSpec([None, 28, 28, 1], tf.uint8, name="images")
    from_frame, from_file = fit_frame(picture, spec), load_images([path], spec)[0]
    assert from_frame.shape == from_file.shape == (28, 28, 1) and from_frame.dtype == np.uint8
    np.testing.assert_allclose(from_frame, from_file, atol=1)  # the decoder's grey conversion rounds its own way


def test_a_policy_gets_its_last_frames_stacked_oldest_first():
    signature = SignatureSpec("", {"observations": tf.TensorSpec([None, 84, 84, 4], tf.uint8, name="observations")}, {})
    prepare = frame_preparer("serving_default", signature, frame_stack=4)
    first = prepare(np.full((210, 160, 3), 10, np.uint8))
    assert first.shape == (1, 84, 84, 4) and first.dtype == np.uint8
    assert first[0, 0, 0].tolist() == [10, 10, 10, 10]
    for level in (20, 30, 40):
        latest = prepare(np.full((210, 160, 3), level, np.uint8))
    assert latest[0, 0, 0].tolist() == [10, 20, 30, 40]


def test_sources_read_every_video_frame_in_rgb_and_render_environments(video):
    frames = list(open_source(video).frames)
    assert len(frames) == VIDEO_FRAMES and frames[0].shape == (64, 64, 3)
    assert abs(int(frames[5].mean()) - 50) <= 3
    rendered = list(limited(open_source("CartPole-v1", "noop").frames, 3, None))
    assert len(rendered) == 3 and rendered[0].ndim == 3 and rendered[0].shape[2] == 3


def test_show_without_a_display_is_a_clear_error(monkeypatch):
    def no_gui(*args):
        raise cv2.error("The function is not implemented")

    monkeypatch.setattr(cv2, "namedWindow", no_gui)
    with pytest.raises(InputError, match="--show needs a display"):
        WindowSink()


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_a_video_streams_to_a_served_model_in_order(served, video, transport):
    with ServingClient(target_of(served, transport), transport, timeout=30) as client:
        stats = stream_frames(client, "mnist", open_source(video).frames, max_in_flight=3, warmup=2)
    assert (stats.sent, stats.answered, stats.dropped) == (VIDEO_FRAMES, VIDEO_FRAMES, 0)
    assert len(stats.latencies_ms) == VIDEO_FRAMES - 2


def test_the_command_writes_an_annotated_video_with_the_contract_labels(contract_served, video, tmp_path, capsys):
    out = tmp_path / "runs" / "annotated.avi"  # a folder that does not exist yet
    parser = argparse.ArgumentParser()
    add_stream_command(parser.add_subparsers())
    args = parser.parse_args(["stream", "--model", CONTRACT_MODEL, "--source", video, "--out", str(out),
                              "--server", contract_served.grpc_target, "--frames", "12", "--warmup-frames", "2"])
    with ServingClient(contract_served.grpc_target, "grpc", timeout=30) as client:
        fetch_metadata = client.metadata
        fetched = []
        client.metadata = lambda *given: fetched.append(given) or fetch_metadata(*given)
        run_stream(client, args)
    assert len(fetched) == 1, "the model's metadata is fetched once, then read from the client's cache"
    report = capsys.readouterr().out
    assert "frames sent 12, answered 12, dropped 0" in report and "first 2 answered frames excluded" in report
    written = cv2.VideoCapture(str(out))
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == 12 and written.get(cv2.CAP_PROP_FRAME_WIDTH) >= 320


def test_captions_name_the_prediction_then_the_best_scores():
    outputs_spec = {"probabilities": tf.TensorSpec([None, 3], tf.float32), "class_ids": tf.TensorSpec([None], tf.int64)}
    spec = SignatureSpec("", {}, outputs_spec)
    outputs = {"probabilities": np.array([[0.1, 0.7, 0.2]], np.float32), "class_ids": np.array([1])}
    assert caption_lines(spec, outputs, ["coat", "bag", "boot"], top=2) == ["class_ids: bag", "bag 0.700", "boot 0.200"]


def test_labels_come_from_the_contract():
    assert contract_labels(CONTRACT, "serving_default") == DIGIT_NAMES
    assert contract_labels({"family": "dqn_policy", "action_meanings": ["NOOP", "FIRE"]}, "serving_default") == ["NOOP", "FIRE"]
