"""Vision family quality and cost: classifiers, the VAE and the GANs, trained by the trainer CLI, in one table.

Each row runs `python -m trainer vision ...` in a subprocess (its output goes to `<workdir>/logs/<row>.log`),
timed end to end, and reads its figures from the export's model.json:
- classifiers: test accuracy (fashion_mnist cnn and deep, mnist cnn);
- VAE: test ELBO in nats per binarised image, and the Fréchet distance of its samples;
- GANs (fc, dcgan, cgan): the Fréchet distance of their samples and, for the cGAN, the classifier's accuracy
  on images generated for each requested label (GAN-test) next to its accuracy on real test images.
Fréchet distances are taken in the `features` space of the best Fashion-MNIST classifier of this run (or
--quality-classifier), so they are "FD-<classifier>", not Inception FIDs; the floor is the same distance
between real training and real test images, measured here with the same classifier and sample count.

    python bench/vision_quality.py --data-dir mnist=data/mnist      # the real run (about a day on 2 CPU cores)
    python bench/vision_quality.py --scale tiny --rows cnn,vae,cgan  # a smoke run of a few minutes
    python bench/vision_quality.py --measure saved_models/fashion_mnist_cgan/4 \
        --quality-classifier saved_models/fashion_mnist_classifier/7 --quality-samples 5000  # re-judge exports

With --measure nothing is trained: each given GAN or VAE export's `sample` signature (seeds 0..n-1, balanced labels
for a cGAN) is judged by --quality-classifier, as the trainer judges it at export.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from trainer.data.image_datasets import load_image_dataset  # noqa: E402
from trainer.export import layout  # noqa: E402
from trainer.vision.quality import (  # noqa: E402
    Generate,
    classifier_reference,
    generator_quality,
    label_accuracy,
    load_feature_extractor,
    load_label_classifier,
    real_floor,
)

QUALITY_DATASET = "fashion_mnist"
SCALES = {  # extra flags per job kind; "full" uses the literature's defaults of each job
    "full": {"classifier": [], "vae": [], "gan": []},
    "quick": {"classifier": ["--quick"], "vae": ["--quick"], "gan": ["--quick"]},
    "tiny": {
        "classifier": ["--quick", "--epochs", "1", "--limit-train", "2000"],
        "vae": ["--quick", "--epochs", "1", "--limit-train", "2000"],
        "gan": ["--epochs", "1", "--limit-train", "1280", "--width", "16"],
    },
}
TINY_QUALITY_SAMPLES = 1000
SAMPLE_BATCH = 500


@dataclass(frozen=True)
class Row:
    """One bench row: the trainer job, its own flags, and which figures to read.

    full_scale_flags join the command at `--scale full` only: a training budget the smaller scales replace.
    """

    name: str
    job: str
    kind: str
    dataset: str
    flags: tuple[str, ...] = ()
    full_scale_flags: tuple[str, ...] = ()


ROWS = {
    row.name: row
    for row in (
        Row("cnn", "classifier", "classifier", "fashion_mnist", ("--arch", "cnn")),
        Row("deep", "classifier", "classifier", "fashion_mnist",  # fashion_mnist_classifier/7's recipe
            ("--arch", "deep", "--deep-blocks", "32x2,64x2,128x2", "--erasing", "0.5", "--label-smoothing", "0.1",
             "--weight-decay", "0.05"), full_scale_flags=("--epochs", "30")),
        Row("mnist_cnn", "classifier", "classifier", "mnist", ("--arch", "cnn")),
        Row("vae", "vae", "vae", "fashion_mnist", ("--latent-dim", "16")),
        Row("fc", "gan", "gan", "fashion_mnist", ("--arch", "fc")),
        Row("dcgan", "gan", "gan", "fashion_mnist", ("--arch", "dcgan")),
        Row("cgan", "gan", "gan", "fashion_mnist", ("--arch", "cgan")),
    )
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows (default: all of {', '.join(ROWS)})")
    parser.add_argument("--scale", choices=tuple(SCALES), default="full", help="job defaults, --quick, or a smoke run")
    parser.add_argument("--quality-samples", type=int, help="images per Fréchet distance (default: 10000; tiny: 1000)")
    parser.add_argument("--quality-classifier", type=Path,
                        help="classifier export for the distances (default: the best fashion_mnist row of this run)")
    parser.add_argument("--data-dir", action="append", default=[], metavar="[DATASET=]DIR",
                        help="--data-dir of the jobs: DATASET=DIR for one dataset's rows (e.g. mnist=data/mnist from "
                             "scripts/fetch_mnist.sh), DIR for every row; repeatable")
    parser.add_argument("--offline", action="store_true", help="pass --offline to every job")
    parser.add_argument("--workdir", type=Path, help="where exports, runs and logs go (default: a temporary folder)")
    parser.add_argument("--measure", action="append", type=Path, default=[], metavar="EXPORT",
                        help="judge the `sample` signature of this existing GAN or VAE export version folder instead "
                             "of training (repeatable; needs --quality-classifier)")
    args = parser.parse_args()
    if args.measure and args.quality_classifier is None:
        parser.error("--measure needs --quality-classifier (the classifier export that judges the samples)")
    args.data_dirs = _data_dirs(parser, args.data_dir)
    return args


def _data_dirs(parser: argparse.ArgumentParser, values: list[str]) -> dict[str | None, Path]:
    """{dataset or None (every dataset): folder} from the --data-dir values."""
    folders: dict[str | None, Path] = {}
    for value in values:
        dataset, separator, folder = value.rpartition("=")
        if separator and dataset not in {row.dataset for row in ROWS.values()}:
            parser.error(f"--data-dir {value}: unknown dataset {dataset!r}")
        folders[dataset or None] = Path(folder)
    return folders


def data_dir(args: argparse.Namespace, dataset: str) -> Path | None:
    """The folder given for dataset, else the one given for every dataset, else None (the jobs' own lookup)."""
    return args.data_dirs.get(dataset, args.data_dirs.get(None))


def _command(row: Row, args: argparse.Namespace, workdir: Path, samples: int, classifier: Path | None) -> list[str]:
    budget = row.full_scale_flags if args.scale == "full" else ()
    command = [sys.executable, "-m", "trainer", "vision", row.job, "--dataset", row.dataset, *row.flags, *budget,
               *SCALES[args.scale][row.kind], "--model-name", f"bench_{row.name}",
               "--export-root", str(workdir / "saved_models"), "--run-dir", str(workdir / "runs" / row.name)]
    if row.kind != "classifier":
        command += ["--quality-samples", str(samples if classifier else 0)]
        command += ["--quality-classifier", str(classifier)] if classifier else []
    folder = data_dir(args, row.dataset)
    command += ["--data-dir", str(folder)] if folder else []
    return command + (["--offline"] if args.offline else [])


def run_row(row: Row, args: argparse.Namespace, workdir: Path, samples: int, classifier: Path | None) -> dict:
    """Run one row's job; its wall time and its model.json metrics, or the last line of its log on failure."""
    log = workdir / "logs" / f"{row.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as output:
        status = subprocess.run(_command(row, args, workdir, samples, classifier), cwd=REPO_ROOT, stdout=output,
                                stderr=subprocess.STDOUT, check=False).returncode
    wall = time.perf_counter() - started
    if status != 0:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        return {"wall": wall, "error": lines[-1] if lines else f"exit status {status}"}
    versions = layout.existing_versions(workdir / "saved_models" / f"bench_{row.name}")
    export = versions[max(versions)]
    return {"wall": wall, "export": export, "metrics": json.loads((export / layout.MODEL_JSON).read_text())["metrics"]}


def best_classifier(results: dict[str, dict]) -> Path | None:
    """The export of the fashion_mnist classifier row with the highest test accuracy, if any succeeded."""
    candidates = [(result["metrics"]["test_accuracy"], result["export"]) for name, result in results.items()
                  if ROWS[name].kind == "classifier" and ROWS[name].dataset == QUALITY_DATASET and "export" in result]
    return max(candidates)[1] if candidates else None


def measure_floor(args: argparse.Namespace, classifier: Path, samples: int) -> float:
    """Fréchet distance of real training vs real test images in the classifier's features."""
    dataset = load_image_dataset(QUALITY_DATASET, data_dir(args, QUALITY_DATASET), args.offline)
    return real_floor(dataset.train, dataset.test, load_feature_extractor(classifier), samples)


def _figure(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table_line(name: str, result: dict, floor: float | None) -> str:
    """One markdown table row; the floor is shown next to rows that measured a Fréchet distance."""
    if "error" in result:
        return "| " + " | ".join([name, f"{result['wall']:.0f}", f"failed: {result['error'][:90]}", *["-"] * 5]) + " |"
    metrics = result["metrics"]
    quality = metrics.get("sample_quality", {})
    distance = quality.get("frechet_distance")
    cells = [
        name, f"{result['wall']:.0f}", _figure(metrics.get("test_accuracy"), 4), _figure(metrics.get("test_elbo_nats"), 1),
        _figure(distance, 2), _figure(floor if distance is not None else None, 2),
        _figure(quality.get("label_accuracy"), 3), _figure(quality.get("real_label_accuracy"), 3),
    ]
    return "| " + " | ".join(cells) + " |"


def _export_sampler(export: Path) -> tuple[Generate, int | None]:
    """The export's `sample` signature as generate(seeds, labels) -> uint8 images, and its number of labels."""
    if not (export / layout.MODEL_JSON).is_file():
        sys.exit(f"--measure {export}: not an export version folder (no {layout.MODEL_JSON})")
    document = json.loads((export / layout.MODEL_JSON).read_text())
    signatures = tf.saved_model.load(str(export)).signatures
    if "sample" not in signatures:
        sys.exit(f"--measure {export}: no 'sample' signature (it has {sorted(signatures)}); is it a GAN or VAE export?")
    sample = signatures["sample"]

    def generate(seeds: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        batches = []
        for start in range(0, len(seeds), SAMPLE_BATCH):
            inputs = {"seeds": tf.constant(seeds[start : start + SAMPLE_BATCH])}
            if labels is not None:
                inputs["labels"] = tf.constant(labels[start : start + SAMPLE_BATCH])
            batches.append(sample(**inputs)["images"].numpy())
        return np.concatenate(batches)

    labels = document.get("labels")
    return generate, None if labels is None else len(labels)


def measure_exports(args: argparse.Namespace, samples: int) -> None:
    """Print one table row per --measure export: FD, the real floor, and a cGAN's label accuracy."""
    classifier = args.quality_classifier
    dataset = load_image_dataset(QUALITY_DATASET, data_dir(args, QUALITY_DATASET), args.offline)
    extract, classify = load_feature_extractor(classifier), load_label_classifier(classifier)
    floor = real_floor(dataset.train, dataset.test, extract, samples)
    real = dataset.test.images[:samples], dataset.test.labels[:samples]
    real_accuracy = label_accuracy(classify(real[0]), real[1], len(dataset.class_names))["label_accuracy"]
    print(f"{classifier_reference(classifier)['measure']} on {samples} images each; real floor {floor:.2f}, "
          f"classifier accuracy on real test images {real_accuracy:.3f}")
    print("| export | FD | cGAN label acc | per label |")
    print("|---|---:|---:|---|")
    for export in args.measure:
        generate, num_classes = _export_sampler(export)
        figures = generator_quality(generate, dataset.test, extract, samples, num_classes, classify)
        per_label = " ".join(f"{figures[f'label_accuracy/{k}']:.2f}" for k in range(num_classes or 0))
        print(f"| {export} | {figures['frechet_distance']:.2f} | {_figure(figures.get('label_accuracy'), 3)} | "
              f"{per_label or '-'} |")


def main() -> None:
    args = parse_args()
    if args.measure:
        measure_exports(args, args.quality_samples or 10000)
        return
    names = [name.strip() for name in args.rows.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ROWS))
    if unknown:
        sys.exit(f"unknown rows {unknown}; expected some of {', '.join(ROWS)}")
    samples = args.quality_samples or (TINY_QUALITY_SAMPLES if args.scale == "tiny" else 10000)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vision_quality-"))
    ordered = sorted(names, key=lambda name: ROWS[name].kind != "classifier")  # classifiers judge the rest
    results: dict[str, dict] = {}
    classifier = args.quality_classifier
    for name in ordered:
        if ROWS[name].kind != "classifier" and classifier is None:
            classifier = best_classifier(results)
        print(f"running {name} ...", flush=True)
        results[name] = run_row(ROWS[name], args, workdir, samples, classifier)
    floor = measure_floor(args, classifier, samples) if classifier else None
    reference = classifier_reference(classifier)["measure"] if classifier else "none"
    print(f"\nscale {args.scale}; Fréchet distances ({reference}) on {samples} images each; work dir {workdir}")
    print("| row | wall s | test acc | VAE ELBO nats | FD | real floor | cGAN label acc | real label acc |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        print(table_line(name, results[name], floor))


if __name__ == "__main__":
    main()
