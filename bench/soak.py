"""Soak: many live streams against one server for minutes, watching errors, memory and tail latency.

Serves an export (default: the shipped Fashion-MNIST classifier) with ``--enable_batching`` in a
``python -m serving`` subprocess, and sends ``--streams`` concurrent streams of single frames at ``--fps``
each over gRPC for ``--minutes``: open loop on an even frame clock (a camera or a game does not wait for
answers), one load-generator run per minute, the first one after ``--warmup`` seconds of the same load.
After every minute it reads the server's resident memory and thread count (``VmRSS`` and ``Threads`` in
/proc). It prints one row per minute and then the three verdicts of a soak:
- no errors and no unsent frames in any minute;
- no memory growth: every later minute's resident memory within ``--memory-tolerance`` of the warm-up
  level (the end of the first minute), with the trend in MB per minute;
- p99 latency of every later minute within 2x the first minute's.
The exit status is 1 when a verdict fails, so the script can gate a release.

    .venv/bin/python bench/soak.py --minutes 10 --streams 16 --fps 30
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import numpy as np  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from bench_server import add_batch_timeout_flag, grpc_sender, start_server, write_batching_parameters  # noqa: E402

from client.loadgen import BenchReport, Load, run_load  # noqa: E402

P99_LIMIT = 2.0
"""Every later minute's p99 must stay within this factor of the first minute's."""


@dataclass(frozen=True)
class Minute:
    """One measured minute: its load-generator report and the server's resident memory and threads after it."""

    report: BenchReport
    rss_mb: float
    threads: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default="saved_models/fashion_mnist_classifier", help="export base path")
    parser.add_argument("--minutes", type=int, default=10, help="minutes measured (default 10)")
    parser.add_argument("--streams", type=int, default=16, help="concurrent streams (default 16)")
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second of each stream (default 30)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of load before the first minute")
    parser.add_argument("--image-size", type=int, default=64, help="frame height and width where the model takes any")
    add_batch_timeout_flag(parser)
    parser.add_argument("--memory-tolerance", type=float, default=0.05,
                        help="allowed resident-memory rise over the warm-up level, as a fraction (default 0.05)")
    args = parser.parse_args()
    if args.minutes < 2 or args.streams < 1 or args.fps <= 0:
        parser.error("need --minutes >= 2 (the first is the reference), --streams >= 1 and --fps > 0")
    return args


def process_status(pid: int) -> tuple[float, int]:
    """The process's resident memory in MB and its thread count, from /proc/<pid>/status."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


def soak(args: argparse.Namespace, grpc_port: int, server_pid: int) -> list[Minute]:
    """Run the minutes back to back against the server and collect their reports and memory."""
    sender = grpc_sender(grpc_port, args.image_size)
    minutes: list[Minute] = []
    try:
        for index in range(args.minutes):
            load = Load(args.streams, 60.0, args.warmup if index == 0 else 0.0, rate=args.streams * args.fps,
                        schedule="uniform", seed=index)
            report = run_load(sender, load, progress=True)
            minutes.append(Minute(report, *process_status(server_pid)))
            print(row(index + 1, minutes[-1]), flush=True)
    finally:
        sender.close()
    return minutes


def failures(report: BenchReport) -> int:
    """Requests answered with an error, and frames the load generator could not send on time."""
    return sum(report.errors.values()) + report.unsent


def row(number: int, minute: Minute) -> str:
    report = minute.report
    return (f"{number:>6} {report.requests:>9} {failures(report):>7} {report.latency_ms.get('p50', float('nan')):>8.2f} "
            f"{report.latency_ms.get('p99', float('nan')):>8.2f} {minute.rss_mb:>9.1f} {minute.threads:>8}")


def verdicts(minutes: list[Minute], tolerance: float) -> list[tuple[str, bool]]:
    """(sentence, passed) for errors, memory growth and p99 stability."""
    errors = sum(failures(m.report) for m in minutes)
    warm_rss, later = minutes[0].rss_mb, minutes[1:]
    worst_rss = max(m.rss_mb for m in later)
    trend = float(np.polyfit(np.arange(len(later)), [m.rss_mb for m in later], 1)[0]) if len(later) > 1 else 0.0
    first_p99 = minutes[0].report.latency_ms.get("p99", float("nan"))
    worst_p99 = max(m.report.latency_ms.get("p99", float("inf")) for m in later)
    return [
        (f"errors and unsent frames over all minutes: {errors}", errors == 0),
        (f"resident memory: warm-up {warm_rss:.1f} MB, highest later {worst_rss:.1f} MB "
         f"({(worst_rss / warm_rss - 1) * 100:+.1f} %, limit {tolerance * 100:+.0f} %), trend {trend:+.2f} MB/minute",
         worst_rss <= warm_rss * (1 + tolerance)),
        (f"p99: first minute {first_p99:.2f} ms, worst later {worst_p99:.2f} ms "
         f"({worst_p99 / first_p99:.2f}x, limit {P99_LIMIT:.0f}x)", worst_p99 <= P99_LIMIT * first_p99),
    ]


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as folder:
        batching = write_batching_parameters(folder, args.streams, args.batch_timeout_micros, os.cpu_count() or 1)
        server = start_server(args.model_dir, batching)
        try:
            print(f"{args.streams} streams x {args.fps:g} frames/s over gRPC for {args.minutes} minutes after "
                  f"{args.warmup:g} s warm-up; {args.model_dir}; batching max {args.streams} rows, "
                  f"{args.batch_timeout_micros} us; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print(f"{'minute':>6} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>9} {'threads':>8}")
            minutes = soak(args, server.grpc_port, server.process.pid)
        finally:
            server.stop()
    results = verdicts(minutes, args.memory_tolerance)
    for sentence, passed in results:
        print(f"{'PASS' if passed else 'FAIL'}  {sentence}")
    sys.exit(0 if all(passed for _, passed in results) else 1)


if __name__ == "__main__":
    main()
