"""Char-LSTM quality and speed: ours vs the keras-io baseline for the same wall time, then generation speed.

In one run on one corpus (default: Debian fortunes) it trains
- ours: `trainer.sequence` (stacked LSTM on embeddings, 100-character windows, Adam + clipping, a loss at
  every position) through `train_charlstm`, stopped after --budget seconds of training, then exported.
  Its default size is the one a 2-core CPU can train in the budget: 2x128 at Adam 1e-2 (measured at 90 s:
  2.73 bpc; at 2e-3, the textbook rate for 2x512, 3.19; 2x256 makes ~4x fewer steps, 2x512 ~20x fewer);
- the baseline of keras-io's `lstm_character_level_text_generation.py`: one LSTM(128) on one-hot windows
  of 40 characters taken every 3, predicting the 41st, RMSprop 0.01, batch 128, for the same wall time;
and prints their validation bits per character (each on its own validation windows of the same held-out
tail) and training speed (predicted characters per second). Then it serves our export with our server
and prints generation speed: in the graph (`serving_default`, one call) vs streamed (`step`, one call per
character), over gRPC and REST.

    python bench/charlstm_quality.py --budget 600            # the comparison (about 25 minutes)
    python bench/charlstm_quality.py --budget 600 --units 512 --learning-rate 2e-3   # the textbook size (GPU)
    python bench/charlstm_quality.py --budget 20 --limit-chars 100000   # a smoke run
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from bench_server import free_port  # noqa: E402

from client import ServingClient  # noqa: E402
from client.generate import generate, stream  # noqa: E402
from serving.main import start_server  # noqa: E402
from serving.options import parse_options  # noqa: E402
from trainer.sequence.char_data import build_vocabulary, split_contiguous, windows  # noqa: E402
from trainer.sequence.charlstm import train_charlstm  # noqa: E402
from trainer.sequence.charlstm_config import CharLSTMConfig  # noqa: E402
from trainer.sequence.corpus import load_corpus  # noqa: E402

BASELINE_WINDOW, BASELINE_STEP, BASELINE_BATCH, BASELINE_UNITS, BASELINE_LR = 40, 3, 128, 128, 0.01
MODEL_NAME = "bench_charlstm"


class TrainingClock(keras.callbacks.Callback):
    """Stops training after `budget` seconds spent in training batches; counts them for the speed."""

    def __init__(self, budget: float) -> None:
        super().__init__()
        self.budget, self.seconds, self.batches, self._started = budget, 0.0, 0, 0.0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.seconds += time.perf_counter() - self._started
        self.batches += 1
        if self.seconds >= self.budget:
            self.model.stop_training = True


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", help="corpus files (default: the fortunes corpus), as trainer --text")
    parser.add_argument("--limit-chars", type=int, help="use only the first N characters of the corpus")
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds per model (default 600)")
    parser.add_argument("--units", type=int, default=128, help="our LSTM units (default 128)")
    parser.add_argument("--layers", type=int, default=2, help="our LSTM layers (default 2)")
    parser.add_argument("--learning-rate", type=float, default=1e-2, help="our Adam learning rate (default 1e-2)")
    parser.add_argument("--generate", type=int, default=200, help="characters per generation timing (default 200)")
    return parser.parse_args()


def train_ours(args: argparse.Namespace, root: Path) -> tuple[float, float, Path]:
    """(validation bpc, predicted characters per second, export path) of our trainer within the budget."""
    config = CharLSTMConfig(
        text=args.text, limit_chars=args.limit_chars, lstm_units=args.units, lstm_layers=args.layers,
        learning_rate=args.learning_rate,
        epochs=1000, steps_per_epoch=100, patience=1000, sample_length=80, model_name=MODEL_NAME,
        export_root=root / "saved_models", run_dir=root / "run",
    )
    clock = TrainingClock(args.budget)
    result = train_charlstm(config, command=sys.argv, callbacks=[clock])
    speed = clock.batches * config.batch_size * config.seq_length / clock.seconds
    return result.validation_bpc, speed, result.export.path.parent


def _one_hot_next(size: int):
    def convert(inputs: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.one_hot(inputs, size), targets[:, -1]
    return convert


def train_baseline(args: argparse.Namespace) -> tuple[float, float]:
    """(validation bpc, predicted characters per second) of the keras-io example within the budget."""
    corpus = load_corpus(args.text, "utf-8", args.limit_chars)
    vocabulary = build_vocabulary(corpus.text)
    train, validation = split_contiguous(vocabulary.encode(corpus.text), 0.05, 100)
    convert = _one_hot_next(vocabulary.size)
    model = keras.Sequential([
        keras.Input((BASELINE_WINDOW, vocabulary.size)),
        keras.layers.LSTM(BASELINE_UNITS),
        keras.layers.Dense(vocabulary.size, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(BASELINE_LR), loss="sparse_categorical_crossentropy")
    batches = windows(train, BASELINE_WINDOW, BASELINE_STEP, BASELINE_BATCH, shuffle_seed=1).map(convert)
    clock = TrainingClock(args.budget)
    model.fit(batches.repeat(), epochs=1000, steps_per_epoch=100, callbacks=[clock], verbose=2)
    held_out = windows(validation, BASELINE_WINDOW, BASELINE_STEP, BASELINE_BATCH).map(convert)
    bpc = model.evaluate(held_out, verbose=0) / math.log(2)
    return bpc, clock.batches * BASELINE_BATCH / clock.seconds


def generation_speeds(model_base: Path, length: int) -> list[tuple[str, str, float]]:
    """(mode, transport, characters per second) of generating `length` characters through our server."""
    grpc_port, rest_port = free_port(), free_port()
    server = start_server(parse_options([f"--port={grpc_port}", f"--rest_api_port={rest_port}",
                                       f"--model_name={MODEL_NAME}", f"--model_base_path={model_base}"]))
    rows = []
    try:
        for transport, target in (("grpc", f"localhost:{grpc_port}"), ("rest", f"http://localhost:{rest_port}")):
            with ServingClient(target, transport, timeout=120) as client:
                generate(client, MODEL_NAME, "The ", 5, 1.0, 0)
                for mode, run in (("in-graph", lambda: generate(client, MODEL_NAME, "The ", length, 1.0, 1)),
                                  ("streamed", lambda: "".join(stream(client, MODEL_NAME, "The ", length, 1.0, 1)))):
                    started = time.perf_counter()
                    text = run()
                    rows.append((mode, transport, len(text) / (time.perf_counter() - started)))
    finally:
        server.stop()
    return rows


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        ours_bpc, ours_speed, model_base = train_ours(args, Path(scratch))
        base_bpc, base_speed = train_baseline(args)
        speeds = generation_speeds(model_base, args.generate)
    print(f"\ntraining for {args.budget:.0f} s each (predicted characters per second; bpc on held-out windows)")
    print(f"{'model':<36} {'chars/s':>10} {'val bpc':>8}")
    ours = f"ours {args.layers}xLSTM({args.units}), seq 100, lr {args.learning_rate:g}"
    print(f"{ours:<36} {ours_speed:>10.0f} {ours_bpc:>8.3f}")
    print(f"{'keras-io 1xLSTM(128), window 40/3':<36} {base_speed:>10.0f} {base_bpc:>8.3f}")
    print(f"ours reaches lower bpc: {ours_bpc < base_bpc}")
    print(f"\ngeneration of {args.generate} characters through our server")
    print(f"{'mode':<10} {'transport':<10} {'chars/s':>10}")
    for mode, transport, speed in speeds:
        print(f"{mode:<10} {transport:<10} {speed:>10.1f}")


if __name__ == "__main__":
    main()
