#!/usr/bin/env bash
# The main job, end to end: set up, train (quick presets) any shipped model missing from saved_models/, serve
# every model in saved_models/ (gRPC 8500, REST 8501), drive the client against it over both APIs, stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."

GRPC_PORT=${GRPC_PORT:-8500}
REST_PORT=${REST_PORT:-8501}
RUN_DIR=${RUN_DIR:-runs/main_job}
PY=.venv/bin/python

bash scripts/setup.sh
mkdir -p "$RUN_DIR"

has_version() { compgen -G "saved_models/$1/[0-9]*/saved_model.pb" >/dev/null; }

# Each shipped model is trained (quick preset) only when saved_models/ lacks it.
train_if_missing() {
  local model=$1; shift
  if ! has_version "$model"; then
    echo "== No $model export: training it with the quick preset"
    $PY -m trainer "$@" --quick --model-name "$model"
  fi
}
train_if_missing fashion_mnist_classifier vision classifier --dataset fashion_mnist
train_if_missing fashion_mnist_vae vision vae --dataset fashion_mnist
train_if_missing fashion_mnist_cgan vision gan --arch cgan --dataset fashion_mnist
train_if_missing charlstm sequence charlstm
train_if_missing cartpole_dqn rl dqn --env CartPole-v1
if ! has_version carracing_driver; then
  echo "== No carracing_driver export: recording two short expert episodes and cloning them (quick presets)"
  $PY -m trainer rl carracing-record --quick --out "$RUN_DIR/carracing_demos"
  $PY -m trainer rl carracing-train --quick --data "$RUN_DIR/carracing_demos" --model-name carracing_driver
fi

echo "== Writing test images"
$PY -m trainer vision samples --dataset fashion_mnist --split test --count 500 --out "$RUN_DIR/test_images" --overwrite

echo "== Model config for every export in saved_models/ (examples/models.config)"
bash scripts/example_configs.sh
CONFIG=examples/models.config

echo "== Starting the model server (gRPC $GRPC_PORT, REST $REST_PORT)"
$PY -m serving --port="$GRPC_PORT" --rest_api_port="$REST_PORT" --model_config_file="$CONFIG" \
  --monitoring_config_file=examples/monitoring.config > "$RUN_DIR/server.log" 2>&1 &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    echo "== Server stopped (log: $RUN_DIR/server.log)"
  fi
}
trap stop_server EXIT

$PY - "$REST_PORT" "$SERVER_PID" <<'WAIT'
import os, sys, time, urllib.error, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the server exited during startup; see its log")
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/readyz", timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        pass
    time.sleep(0.5)
sys.exit("the server was not ready within 300 s")
WAIT

echo "== Models served"
$PY -m client list --rest "http://localhost:$REST_PORT"

echo "== One image, top classes named by the model's contract (gRPC)"
TEST_IMAGES=("$RUN_DIR"/test_images/*.png)
$PY -m client predict --model fashion_mnist_classifier --image "${TEST_IMAGES[0]}" --top 3 --server "localhost:$GRPC_PORT"

echo "== Classifying the test images over gRPC, then REST"
for where in "--server localhost:$GRPC_PORT" "--rest http://localhost:$REST_PORT"; do
  # shellcheck disable=SC2086
  $PY -m client evaluate --model fashion_mnist_classifier --images "$RUN_DIR/test_images" $where
done

echo "== Samples of the VAE, as a PNG grid"
$PY -m client sample --model fashion_mnist_vae --count 32 --out "$RUN_DIR/vae_samples.png" --server "localhost:$GRPC_PORT"

echo "== Samples of the conditional GAN, one row per class"
$PY -m client sample --model fashion_mnist_cgan --count 8 --labels 0,1,2,3,4,5,6,7,8,9 \
  --out "$RUN_DIR/cgan_samples.png" --server "localhost:$GRPC_PORT"

echo "== A paragraph from the char-LSTM (in-graph generation, then streamed through 'step' over REST)"
$PY -m client generate --model charlstm --prompt "The " --length 400 --temperature 0.7 --seed 1 --server "localhost:$GRPC_PORT"
$PY -m client generate --model charlstm --prompt "The " --length 120 --temperature 0.7 --seed 1 --stream \
  --rest "http://localhost:$REST_PORT"

echo "== CartPole played through the server, one decision per request (video: $RUN_DIR/cartpole.mp4)"
$PY -m client play --model cartpole_dqn --episodes 1 --video "$RUN_DIR/cartpole.mp4" --server "localhost:$GRPC_PORT"

if has_version pong_dqn; then
  echo "== One game of Pong played through the server (video: $RUN_DIR/pong.mp4)"
  $PY -m client play --model pong_dqn --episodes 1 --video "$RUN_DIR/pong.mp4" --server "localhost:$GRPC_PORT"
fi

if has_version breakout_dqn; then
  echo "== One game of Breakout played through the server, five lives (video: $RUN_DIR/breakout.mp4)"
  $PY -m client play --model breakout_dqn --episodes 1 --video "$RUN_DIR/breakout.mp4" --server "localhost:$GRPC_PORT"
fi

echo "== CarRacing driven through the server, frame by frame (video: $RUN_DIR/carracing.mp4)"
$PY -m client play --model carracing_driver --episodes 1 --seed 10003 --video "$RUN_DIR/carracing.mp4" \
  --server "localhost:$GRPC_PORT"
