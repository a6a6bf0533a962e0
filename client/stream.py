"""``python -m client stream``: live inference on a stream of frames, pipelined, with honest figures.

Frames come from a video file, a camera or a gymnasium environment (client.stream_sources), are prepared
as the model's signature says (client.stream_frames), and go to the server with up to ``--max-in-flight``
requests outstanding; answers come back in frame order (client.stream_pipeline) and are drawn on the
frames, written to ``--out`` or shown with ``--show`` (client.stream_output). The report gives frames
sent, answered and dropped, frames per second and client-side latency p50/p90/p99, with the warm-up
frames left out and said so. Only TF Serving's public APIs are used, so it streams to the real server too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from client.client import METADATA_SIGNATURE, ServingClient
from client.errors import ClientError, InputError
from client.messages import DEFAULT_SIGNATURE
from client.options import connection_options, model_option, version_options
from client.stream_frames import caption_lines, contract_frame_stack, contract_labels, frame_preparer
from client.stream_output import VideoSink, WindowSink, annotate
from client.stream_pipeline import Pipeline, StreamStats
from client.stream_sources import ACTIONS, limited, open_source

DEFAULT_MAX_IN_FLIGHT = 2
DEFAULT_WARMUP_FRAMES = 5
DEFAULT_VIDEO_FPS = 30.0


def add_stream_command(commands: argparse._SubParsersAction) -> None:
    """Add ``stream`` to the client's sub-commands."""
    parser = commands.add_parser(
        "stream", parents=[connection_options(), model_option(), version_options()],
        help="stream video, camera or environment frames to a model, pipelined",
        description="Read frames from a video file, a camera index or a gymnasium env id, prepare each as the "
        "model's signature says, keep up to --max-in-flight requests outstanding and draw the answers on the "
        "frames. Prints frames sent/answered/dropped, frames/s and client-side latency p50/p90/p99.",
    )
    parser.add_argument("--source", required=True, help="video file, camera index (0) or gymnasium env id (CartPole-v1)")
    parser.add_argument("--signature", help=f"signature to run (default {DEFAULT_SIGNATURE})")
    parser.add_argument("--max-in-flight", type=int, default=DEFAULT_MAX_IN_FLIGHT,
                        help="requests outstanding at once; 1 sends each frame after the last answer "
                        f"(default {DEFAULT_MAX_IN_FLIGHT})")
    parser.add_argument("--drop-late", action="store_true",
                        help="drop (and count) frames that arrive while --max-in-flight requests are outstanding")
    parser.add_argument("--out", metavar="VIDEO", help="write the annotated frames to this .mp4 or .avi")
    parser.add_argument("--show", action="store_true", help="show the annotated frames in a window (needs a display)")
    parser.add_argument("--frames", type=int, help="stop after this many frames (default: until the source ends)")
    parser.add_argument("--fps", type=float,
                        help="release frames at this rate, as a live camera would (default: as fast as read)")
    parser.add_argument("--warmup-frames", type=int, default=DEFAULT_WARMUP_FRAMES,
                        help=f"answered frames left out of the timing (default {DEFAULT_WARMUP_FRAMES})")
    parser.add_argument("--frame-stack", type=int,
                        help="stack the last K grey frames on the last axis (default: from a policy's contract)")
    parser.add_argument("--env-actions", choices=ACTIONS, default="random",
                        help="actions that drive an env source (default random)")
    parser.add_argument("--seed", type=int, default=0, help="seed of an env source (default 0)")
    parser.add_argument("--top", type=int, default=3, help="scores drawn per frame (default 3)")
    parser.set_defaults(run=run_stream)


def run_stream(client: ServingClient, args: argparse.Namespace) -> None:
    """The ``stream`` command: set up the source, preparation and output, stream, print the report."""
    _check_arguments(args)
    signature_name = args.signature or DEFAULT_SIGNATURE
    spec = client.signature(args.model, signature_name, args.version, args.label)
    contract = read_contract(client, args.model, args.version, args.label)
    prepare = frame_preparer(signature_name, spec, args.frame_stack or contract_frame_stack(contract, spec))
    source = open_source(args.source, args.env_actions, args.seed)
    labels = contract_labels(contract, signature_name)
    sink = _sink(args, source.native_fps)
    pipeline = Pipeline(
        lambda batch: client.predict(args.model, batch, signature_name, args.version, args.label),
        prepare, args.max_in_flight, args.drop_late,
    )
    stats = StreamStats(args.warmup_frames)
    print(f"streaming {source.description} to {args.model} over {client.transport}, "
          f"{args.max_in_flight} in flight{', dropping late frames' if args.drop_late else ''}", file=sys.stderr)
    try:
        frames = limited(source.frames, args.frames, args.fps)
        for delivered in tqdm(pipeline.run(frames), unit="frame", disable=None, file=sys.stderr):
            stats.add(delivered)
            if sink is not None:
                lines = ["dropped (late)"] if delivered.dropped else caption_lines(spec, delivered.outputs, labels, args.top)
                sink.show(annotate(delivered.frame, [f"{delivered.index}", *lines], delivered.dropped))
                if sink.stop_requested:
                    break
    finally:
        if sink is not None:
            sink.close()
    print(f"{client.transport}: {stats.summary()}")
    if args.out:
        print(f"annotated video: {args.out}")


def stream_frames(client: ServingClient, model: str, frames: Iterable[np.ndarray], max_in_flight: int,
                  drop_late: bool = False, warmup: int = 0, frame_stack: int | None = None,
                  signature: str | None = None) -> StreamStats:
    """Stream ``frames`` to ``model`` and return the counts and timing (no output): for tests and benchmarks."""
    spec = client.signature(model, signature)
    prepare = frame_preparer(signature or DEFAULT_SIGNATURE, spec, frame_stack)
    pipeline = Pipeline(lambda batch: client.predict(model, batch, signature), prepare, max_in_flight, drop_late)
    stats = StreamStats(warmup)
    for delivered in pipeline.run(frames):
        stats.add(delivered)
    return stats


def read_contract(client: ServingClient, model: str, version: int | None, label: str | None) -> dict[str, Any] | None:
    """The model's model.json, or None when it has none (FAILED_PRECONDITION: no such signature) or it cannot be
    read here (UNIMPLEMENTED: REST cannot call it). The signature check reads the client's cached metadata."""
    try:
        client.signature(model, METADATA_SIGNATURE, version, label)
        return client.contract(model, version, label)
    except ClientError as error:
        if error.code not in ("FAILED_PRECONDITION", "UNIMPLEMENTED"):
            raise
        return None


def _check_arguments(args: argparse.Namespace) -> None:
    if args.max_in_flight < 1:
        raise InputError(f"--max-in-flight must be at least 1; got {args.max_in_flight}")
    for name in ("frames", "fps", "frame_stack"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise InputError(f"--{name.replace('_', '-')} must be positive; got {value}")
    if args.warmup_frames < 0:
        raise InputError(f"--warmup-frames must be 0 or more; got {args.warmup_frames}")


def _sink(args: argparse.Namespace, native_fps: float | None) -> VideoSink | WindowSink | None:
    if args.show and args.out:
        raise InputError("choose --show or --out, not both")
    if args.show:
        return WindowSink()
    if args.out:
        return VideoSink(Path(args.out), args.fps or native_fps or DEFAULT_VIDEO_FPS)
    return None
