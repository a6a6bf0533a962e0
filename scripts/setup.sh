#!/usr/bin/env bash
# Creates .venv and installs the project with its test tools; installs Debian's offline data when it can.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# pip notes, once per package, every index folder named in the machine's pip configuration that does not
# exist ("Location 'file:///…' is ignored"): harmless, and nothing this project can fix, so kept off screen.
pip_install() {
  .venv/bin/python -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
pip_install --upgrade pip
pip_install -e ".[test]"

# Offline data from Debian: Fashion-MNIST for the vision trainers, fortunes for the char-LSTM's default corpus.
missing=()
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
[ -d /usr/share/games/fortunes ] || missing+=(fortunes)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  (apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || echo "warning: could not install ${missing[*]}; trainers fall back to downloads or --text/--data-dir" >&2
fi
