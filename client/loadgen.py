"""``python -m client bench``: a load generator for any TensorFlow Serving endpoint, closed or open loop.

Closed loop: ``--concurrency`` workers each send the next request as soon as the last one is answered,
which finds the endpoint's maximum throughput. Open loop: requests are scheduled at a fixed total
``--rate`` (Poisson or evenly spaced arrivals) whatever the answers do, and each latency is measured from
the *scheduled* send time, so a slow answer that holds back the next sends shows up in the figures
instead of being hidden (coordinated omission); ``--concurrency`` workers send them. The first
``--warmup`` seconds run the same load and are left out. Throughput, latency p50/p90/p99/max and error
counts by status are printed and, with ``--json``, written to a file. Requests are built by
client.loadgen_requests from the model's metadata alone, so no knowledge of the model is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from client.client import ServingClient, model_ref
from client.errors import InputError
from client.loadgen_requests import OK, GrpcSender, RestSender, Send, grpc_request, rest_request, synthetic_inputs
from client.messages import DEFAULT_SIGNATURE, ModelRef, SignatureSpec
from client.options import connection_options, model_option, version_options

SCHEDULES = ("poisson", "uniform")
DEFAULT_IMAGE_SIZE = 224
PERCENTILES = (50, 90, 99)
PROGRESS_INTERVAL_S = 0.5


@dataclass(frozen=True)
class Load:
    """What to send: open loop when ``rate`` is set (requests/s in all), closed loop otherwise.

    ``drain_s`` bounds how long requests scheduled before the end may still be sent after it; the
    ones that would be later are counted as unsent (the workers could not keep up with the rate).
    """

    concurrency: int
    duration_s: float
    warmup_s: float = 0.0
    rate: float | None = None
    schedule: str = "poisson"
    batch: int = 1
    drain_s: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.duration_s <= 0 or self.warmup_s < 0 or self.batch < 1:
            raise InputError(f"need --concurrency >= 1, --duration > 0, --warmup >= 0, --batch >= 1; got {self}")
        if (self.rate is not None and self.rate <= 0) or self.schedule not in SCHEDULES:
            raise InputError(f"--rate must be positive and --schedule one of {', '.join(SCHEDULES)}; got {self}")

    @property
    def mode(self) -> str:
        return "closed" if self.rate is None else "open"


@dataclass(frozen=True)
class Sample:
    """One request: when it was sent (open loop: scheduled), when its answer came, and its status."""

    started: float
    finished: float
    status: str


@dataclass(frozen=True)
class BenchReport:
    """The figures of one run, warm-up excluded; latencies (p50/p90/p99/max/mean) in ms, of the answered requests."""

    load: Load
    requests: int
    answered: int
    errors: dict[str, int]
    unsent: int
    warmup_requests: int
    elapsed_s: float
    latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def requests_per_second(self) -> float:
        return self.answered / self.elapsed_s

    def as_dict(self) -> dict[str, Any]:
        """Everything, plus the throughput in requests and rows per second, for ``--json``."""
        return {**asdict(self), "mode": self.load.mode, "requests_per_second": self.requests_per_second,
                "rows_per_second": self.requests_per_second * self.load.batch}

    def summary(self) -> str:
        """Lines a person reads: the load, the throughput, the latency and every error status."""
        load = self.load
        how = f"open loop at {load.rate:g} requests/s ({load.schedule})" if load.rate else "closed loop"
        latency = ", ".join(f"{name} {value:.2f}" for name, value in self.latency_ms.items()) or "no answers"
        errors = ", ".join(f"{status} {count}" for status, count in sorted(self.errors.items())) or "none"
        return (
            f"{how}, {load.concurrency} workers, batch {load.batch}, {load.duration_s:g} s measured after "
            f"{load.warmup_s:g} s warm-up ({self.warmup_requests} warm-up requests excluded)\n"
            f"requests {self.requests}, answered {self.answered}, unsent {self.unsent}; throughput "
            f"{self.requests_per_second:.1f} requests/s ({self.requests_per_second * load.batch:.1f} rows/s)\n"
            f"latency ms: {latency}\nerrors: {errors}"
        )


def run_load(send: Send, load: Load, progress: bool = False) -> BenchReport:
    """Drive ``send`` with ``load`` and summarise what happened after the warm-up."""
    start = time.perf_counter()
    if load.rate is None:
        samples, scheduled = _closed_loop(send, load, start, progress), None
    else:
        samples, scheduled = _open_loop(send, load, start, progress)
    return summarise(samples, load, start, scheduled)


def schedule(load: Load, start: float) -> np.ndarray:
    """Send times of an open-loop run: Poisson arrivals (exponential gaps) or evenly spaced, at ``load.rate``."""
    total = load.warmup_s + load.duration_s
    if load.schedule == "uniform":
        return start + np.arange(0.0, total, 1.0 / load.rate)
    rng = np.random.default_rng(load.seed)
    gaps = rng.exponential(1.0 / load.rate, size=int(total * load.rate * 1.5) + 64)
    offsets = np.cumsum(gaps)
    while offsets[-1] < total:
        offsets = np.concatenate([offsets, offsets[-1] + np.cumsum(rng.exponential(1.0 / load.rate, size=len(gaps)))])
    return start + offsets[offsets < total]


def _closed_loop(send: Send, load: Load, start: float, progress: bool) -> list[Sample]:
    end = start + load.warmup_s + load.duration_s
    samples: list[Sample] = []

    def worker() -> None:
        while (sent := time.perf_counter()) < end:
            status = send()
            samples.append(Sample(sent, time.perf_counter(), status))

    _run_workers(worker, load, samples, progress)
    return samples


def _open_loop(send: Send, load: Load, start: float, progress: bool) -> tuple[list[Sample], int]:
    times = schedule(load, start)
    give_up = start + load.warmup_s + load.duration_s + load.drain_s
    samples: list[Sample] = []
    claimed = iter(range(len(times)))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                index = next(claimed, None)
            if index is None or time.perf_counter() > give_up:
                return
            time.sleep(max(times[index] - time.perf_counter(), 0.0))
            status = send()
            samples.append(Sample(float(times[index]), time.perf_counter(), status))

    _run_workers(worker, load, samples, progress)
    return samples, len(times)


def _run_workers(worker: Callable[[], None], load: Load, samples: list[Sample], progress: bool) -> None:
    """``load.concurrency`` threads running ``worker``, with a progress bar over the run's seconds."""
    threads = [threading.Thread(target=worker, name=f"load-{index}", daemon=True) for index in range(load.concurrency)]
    for thread in threads:
        thread.start()
    total = load.warmup_s + load.duration_s
    with tqdm(total=round(total, 1), unit="s", disable=None if progress else True, file=sys.stderr) as bar:
        started = time.perf_counter()
        while alive := [thread for thread in threads if thread.is_alive()]:
            alive[0].join(PROGRESS_INTERVAL_S)
            bar.n = round(min(time.perf_counter() - started, total), 1)
            bar.set_postfix(requests=len(samples), refresh=True)


def summarise(samples: list[Sample], load: Load, start: float, scheduled: int | None = None) -> BenchReport:
    """The report of the samples sent after the warm-up; ``scheduled`` (open loop) gives the unsent count."""
    window_start = start + load.warmup_s
    measured = [sample for sample in samples if sample.started >= window_start]
    answered = [sample for sample in measured if sample.status == OK]
    last = max((sample.finished for sample in measured), default=window_start + load.duration_s)
    latencies = np.array([(sample.finished - sample.started) * 1000 for sample in answered])
    percentiles = {} if not len(latencies) else {
        **{f"p{p}": float(np.percentile(latencies, p)) for p in PERCENTILES},
        "max": float(latencies.max()), "mean": float(latencies.mean())}
    return BenchReport(
        load=load,
        requests=len(measured),
        answered=len(answered),
        errors=dict(Counter(sample.status for sample in measured if sample.status != OK)),
        unsent=0 if scheduled is None else scheduled - len(samples),
        warmup_requests=len(samples) - len(measured),
        elapsed_s=max(last, window_start + load.duration_s) - window_start,
        latency_ms=percentiles,
    )


def add_bench_command(commands: argparse._SubParsersAction) -> None:
    """Add ``bench`` to the client's sub-commands."""
    parser = commands.add_parser(
        "bench", parents=[connection_options(), model_option(), version_options()],
        help="load-test a model: throughput, latency percentiles and errors",
        description="Send made-up inputs (from the signature's metadata) to a TF Serving endpoint, closed loop "
        "(--concurrency workers back to back) or open loop (--rate requests/s, latency from the scheduled "
        "send time). Prints throughput, latency p50/p90/p99/max and errors by status; --json writes them.",
    )
    parser.add_argument("--signature", help=f"signature to call (default {DEFAULT_SIGNATURE})")
    parser.add_argument("--concurrency", type=int, default=1, help="workers sending at once (default 1)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring (default 2)")
    parser.add_argument("--batch", type=int, default=1, help="rows per request (default 1)")
    parser.add_argument("--rate", type=float, help="open loop: requests per second in all (default: closed loop)")
    parser.add_argument("--schedule", choices=SCHEDULES, default="poisson", help="open-loop arrivals (default poisson)")
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                        help=f"height and width for image inputs of unknown size (default {DEFAULT_IMAGE_SIZE})")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to this JSON file")
    parser.set_defaults(run=run_bench)


def run_bench(client: ServingClient, args: argparse.Namespace) -> None:
    """The ``bench`` command: read the signature, build the request, run the load, report."""
    load = Load(args.concurrency, args.duration, args.warmup, args.rate, args.schedule, args.batch, args.timeout)
    ref = model_ref(args.model, args.version, args.label, args.signature)
    spec = client.signature(args.model, ref.signature, args.version, args.label)
    inputs = synthetic_inputs(spec, args.batch, args.image_size)
    shapes = ", ".join(f"{alias} {value.dtype}{list(value.shape)}" for alias, value in inputs.items())
    print(f"bench {args.model}/{ref.signature} over {client.transport} ({client.protocol}) at {client.target}: {shapes}", file=sys.stderr)
    sender = sender_for(client, ref, spec, inputs, args.timeout)
    try:
        report = run_load(sender, load, progress=True)
    finally:
        sender.close()
    print(report.summary())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"figures: {args.json}")


def sender_for(
    client: ServingClient, ref: ModelRef, spec: SignatureSpec, inputs: dict[str, np.ndarray], timeout: float
) -> GrpcSender | RestSender:
    """The raw sender for the client's transport and replicas, retrying as the client does."""
    if client.transport == "rest":
        path, body, headers = rest_request(client.protocol, ref, inputs)
        return RestSender(client.servers, path, body, headers, timeout, client.retry)
    method, payload = grpc_request(client.protocol, ref, spec, inputs)
    return GrpcSender(client.servers, method, payload, timeout, client.retry)
