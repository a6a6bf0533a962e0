"""Writes the files that run a saved_models tree on the real TensorFlow Serving GPU image.

    python -m serving.deploy.generate --saved-models saved_models --out serving/deploy \\
        [--image tensorflow/serving:2.20.0-gpu] [--replicas 2] [--gpus 1]

Output: ``models.config``, ``batching.config`` and ``monitoring.config`` (the text protos that
tensorflow_model_server's flags point at), ``docker-compose.yml`` and ``k8s/*.yaml``. The output
depends only on the arguments and the model directories, so a second run writes identical files;
every file starts with the command that regenerates it.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import textwrap
from dataclasses import dataclass

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.config.extra_protos import BatchingParameters, MonitoringConfig
from serving.deploy import manifests
from serving.deploy.layout import (
    BATCHING_CONFIG,
    COMPOSE_FILE,
    GENERATE_COMMAND,
    GENERATED_MARK,
    K8S_FILES,
    MODELS_CONFIG,
    MONITORING_CONFIG,
    PROMETHEUS_PATH,
    container_model_path,
    find_models,
)

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "tensorflow/serving:2.20.0-gpu"
COMMENT_WIDTH = 100
BATCHING = (
    ("max_batch_size", 64, "the largest batch one GPU run takes. GPU throughput grows with batch size "
     "until the kernels saturate; 64 gets most of that gain for image-sized inputs while one batch stays "
     "small in GPU memory. Clients need about 2 x 64 requests in flight to fill batches."),
    ("batch_timeout_micros", 2000, "wait at most 2 ms for a batch to fill. This bounds the latency "
     "batching adds to a lone request, and is long enough for concurrent requests to merge."),
    ("num_batch_threads", 4, "batches run at once. A few let one batch's host-to-device copy overlap "
     "another's GPU compute; more only contend for the one GPU."),
    ("max_enqueued_batches", 16, "queue bound per model: 16 x 64 = 1024 waiting requests, about four "
     "batch times of delay with 4 threads. Past that the server answers UNAVAILABLE at once, so a client "
     "or load balancer can retry on another replica instead of waiting."),
)


@dataclass(frozen=True)
class GenerateOptions:
    """The generator's inputs; everything it writes is a function of these and the model directories."""

    saved_models: str
    out: str
    image: str = DEFAULT_IMAGE
    replicas: int = 2
    gpus: int = 1
    models_storage: str = "20Gi"
    gpu_memory_fraction: float | None = None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serving.deploy.generate",
        description="Write TF Serving config files, docker-compose.yml and k8s manifests for a saved_models tree.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--saved-models", required=True, help="root whose model directories hold numeric versions")
    parser.add_argument("--out", required=True, help="directory to write the files into")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="TensorFlow Serving GPU image")
    parser.add_argument("--replicas", type=_positive_int, default=2, help="pods of the Kubernetes Deployment")
    parser.add_argument("--gpus", type=_positive_int, default=1, help="GPUs per server (compose and each pod)")
    parser.add_argument("--models-storage", default="20Gi", help="size requested by the models PersistentVolumeClaim")
    parser.add_argument(
        "--gpu-memory-fraction", type=_fraction, default=None,
        help="pass --per_process_gpu_memory_fraction (one cap for the whole server); unset: TF takes nearly all",
    )
    return parser


def parse_options(argv: list[str]) -> GenerateOptions:
    """Options from command-line arguments; argparse exits with a one-line message on a bad value."""
    return GenerateOptions(**vars(build_parser().parse_args(argv)))


def command_line(options: GenerateOptions) -> str:
    """The command that regenerates exactly these files, written into every file's header."""
    argv = [*shlex.split(GENERATE_COMMAND), "--saved-models", options.saved_models, "--out", options.out,
            "--image", options.image, "--replicas", str(options.replicas), "--gpus", str(options.gpus),
            "--models-storage", options.models_storage]
    if options.gpu_memory_fraction is not None:
        argv += ["--gpu-memory-fraction", str(options.gpu_memory_fraction)]
    return shlex.join(argv)


def header(options: GenerateOptions, notes: list[str]) -> str:
    """``#`` comment lines (valid in YAML and text protos): the generated mark, the command, what the file is for."""
    lines = [f"{GENERATED_MARK}; do not edit. Regenerate with:", f"#   {command_line(options)}", "#"]
    for note in notes:
        lines += textwrap.wrap(note, COMMENT_WIDTH, initial_indent="# ", subsequent_indent="#   ")
    return "\n".join(lines) + "\n"


def models_config_text(models: list[str]) -> str:
    """Text ModelServerConfig: one ``tensorflow`` entry per model, base path under the container's models mount."""
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.SetInParent()
    for name in models:
        config.model_config_list.config.add(
            name=name, base_path=container_model_path(name), model_platform="tensorflow"
        )
    return text_format.MessageToString(config)


def batching_config_text() -> str:
    """Text BatchingParameters with the GPU-oriented values of ``BATCHING``."""
    parameters = BatchingParameters()
    for field, value, _ in BATCHING:
        getattr(parameters, field).value = value
    return text_format.MessageToString(parameters)


def monitoring_config_text() -> str:
    """Text MonitoringConfig: Prometheus metrics on the REST port at TF Serving's default path."""
    config = MonitoringConfig()
    config.prometheus_config.enable = True
    config.prometheus_config.path = PROMETHEUS_PATH
    return text_format.MessageToString(config)


def config_files(options: GenerateOptions, models: list[str]) -> dict[str, str]:
    """The three config files, each with its header."""
    batching_notes = [
        "BatchingParameters for --batching_parameters_file (with --enable_batching), tuned for one GPU per "
        "server. One scheduler with num_batch_threads threads serves every model; each model gets its own queue.",
    ] + [f"{field} {value}: {reason}" for field, value, reason in BATCHING]
    return {
        MODELS_CONFIG: header(options, [
            f"ModelServerConfig for --model_config_file: every directory of {options.saved_models} that holds a "
            "numeric version directory, with its base path under the /models mount.",
        ]) + models_config_text(models),
        BATCHING_CONFIG: header(options, batching_notes) + batching_config_text(),
        MONITORING_CONFIG: header(options, [
            f"MonitoringConfig for --monitoring_config_file: Prometheus metrics on the REST port at {PROMETHEUS_PATH}.",
        ]) + monitoring_config_text(),
    }


def render(options: GenerateOptions, base_dir: str = ".") -> dict[str, str]:
    """Every generated file, by path relative to ``options.out``, for the models found now.

    Relative paths in ``options`` are taken from ``base_dir``, so a checker can regenerate the files
    of a header's command from another working directory; the headers keep the paths as given.
    """
    models = find_models(os.path.join(base_dir, options.saved_models))
    if not models:
        log.warning("No models under %s: models.config gets an empty model_config_list", options.saved_models)
    configs = config_files(options, models)
    spec = manifests.ServerSpec(
        image=options.image, args=manifests.server_args(options.gpu_memory_fraction), gpus=options.gpus,
        replicas=options.replicas, models_storage=options.models_storage,
    )
    documents = {
        COMPOSE_FILE: (manifests.compose_document(spec, _models_source(options, base_dir)),
                       "docker compose service; run `docker compose up` in this directory (needs the NVIDIA "
                       "Container Toolkit). Models and configs are mounted read-only."),
        K8S_FILES["ConfigMap"]: (manifests.config_map_document(configs),
                                 "The three config files of this directory, byte for byte."),
        K8S_FILES["PersistentVolumeClaim"]: (manifests.models_claim_document(spec),
                                             "Holds the saved_models tree; fill it as serving/deploy/README.md shows."),
        K8S_FILES["Deployment"]: (manifests.deployment_document(spec, configs),
                                  "TF Serving pods with GPUs and gRPC health probes on the gRPC port."),
        K8S_FILES["Service"]: (manifests.service_document(), "gRPC and REST in front of the pods."),
    }
    files = dict(configs)
    for path, (document, note) in documents.items():
        files[path] = header(options, [note]) + manifests.to_yaml(document)
    return files


def _models_source(options: GenerateOptions, base_dir: str) -> str:
    """The saved_models root relative to the compose file, which is how compose resolves bind sources."""
    relative = os.path.relpath(os.path.join(base_dir, options.saved_models), os.path.join(base_dir, options.out))
    return relative if relative.startswith("..") else f"./{relative}"


def write_files(files: dict[str, str], out: str) -> None:
    """Write each file under ``out`` with exactly these bytes (UTF-8, ``\\n`` line ends)."""
    for path, text in files.items():
        target = os.path.join(out, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    options = parse_options(sys.argv[1:] if argv is None else argv)
    files = render(options)
    write_files(files, options.out)
    for path in files:
        print(os.path.join(options.out, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
