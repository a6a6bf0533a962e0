#!/usr/bin/env bash
# The main job, end to end: set up, train the quick classifier if no export exists, serve every model
# in saved_models/ (gRPC 8500, REST 8501), drive the client against it over both APIs, stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."

GRPC_PORT=${GRPC_PORT:-8500}
REST_PORT=${REST_PORT:-8501}
RUN_DIR=${RUN_DIR:-runs/main_job}
PY=.venv/bin/python
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

bash scripts/setup.sh
mkdir -p "$RUN_DIR"

has_version() { compgen -G "saved_models/$1/[0-9]*/saved_model.pb" >/dev/null; }

if ! has_version fashion_mnist_classifier; then
  echo "== No fashion_mnist_classifier export: training the quick classifier"
  $PY -m trainer vision classifier --dataset fashion_mnist --quick
fi

echo "== Writing test images"
$PY -m trainer vision samples --dataset fashion_mnist --split test --count 500 --out "$RUN_DIR/test_images" --overwrite

echo "== Model config for every export in saved_models/"
CONFIG="$RUN_DIR/models.config"
{
  echo "model_config_list {"
  for model in saved_models/*/; do
    name=$(basename "$model")
    has_version "$name" || continue
    printf "  config { name: '%s' base_path: '%s' model_platform: 'tensorflow' }\n" "$name" "$(cd "$model" && pwd)"
  done
  echo "}"
} > "$CONFIG"
cat "$CONFIG"
printf 'prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }\n' > "$RUN_DIR/monitoring.config"

echo "== Starting the model server (gRPC $GRPC_PORT, REST $REST_PORT)"
$PY -m serving --port="$GRPC_PORT" --rest_api_port="$REST_PORT" --model_config_file="$CONFIG" \
  --monitoring_config_file="$RUN_DIR/monitoring.config" > "$RUN_DIR/server.log" 2>&1 &
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
FIRST_IMAGE=$(ls "$RUN_DIR"/test_images/*.png | head -n 1)
$PY -m client predict --model fashion_mnist_classifier --image "$FIRST_IMAGE" --top 3 --server "localhost:$GRPC_PORT"

echo "== Classifying the test images over gRPC, then REST"
for where in "--server localhost:$GRPC_PORT" "--rest http://localhost:$REST_PORT"; do
  # shellcheck disable=SC2086
  $PY -m client evaluate --model fashion_mnist_classifier --images "$RUN_DIR/test_images" $where
done
