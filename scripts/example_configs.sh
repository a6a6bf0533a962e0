#!/usr/bin/env bash
# Writes the server configs that name model paths, for this checkout (TensorFlow Serving wants absolute base
# paths, so these cannot be committed):
#   examples/models.config           every model in saved_models/, each serving its latest version;
#   examples/models_versions.config  the same, but the classifier serves versions 6 and 7, labelled
#                                    "previous" and "stable" (TF Serving's `specific` version policy).
# The main job runs it. Usage: bash scripts/example_configs.sh [OUT_DIR] (default: examples).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-examples}
SAVED_MODELS="$(pwd)/saved_models"
mkdir -p "$OUT"

has_version() { compgen -G "$SAVED_MODELS/$1/[0-9]*/saved_model.pb" >/dev/null; }

# model_config_list entries, one per model with a version; $1 names a model whose entry gets $2 added.
entries() {
  for model in "$SAVED_MODELS"/*/; do
    local name
    name=$(basename "$model")
    has_version "$name" || continue
    printf "  config {\n    name: '%s'\n    base_path: '%s'\n    model_platform: 'tensorflow'\n" "$name" "${model%/}"
    [ "$name" = "${1:-}" ] && printf "%s" "$2"
    printf "  }\n"
  done
}

{
  echo "# Every model in saved_models/, each at its latest version. Written by scripts/example_configs.sh."
  echo "model_config_list {"
  entries
  echo "}"
} > "$OUT/models.config"

VERSIONS='    model_version_policy { specific { versions: 6 versions: 7 } }
    version_labels { key: "previous" value: 6 }
    version_labels { key: "stable" value: 7 }
'
{
  echo "# As models.config, but the classifier serves versions 6 and 7 (labels previous, stable)."
  echo "# Written by scripts/example_configs.sh."
  echo "model_config_list {"
  entries fashion_mnist_classifier "$VERSIONS"
  echo "}"
} > "$OUT/models_versions.config"
echo "wrote $OUT/models.config and $OUT/models_versions.config"
