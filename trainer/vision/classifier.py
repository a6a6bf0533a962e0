"""Image classifier: data -> network -> `fit` -> test evaluation -> export (`python -m trainer vision classifier`).

The network follows keras-io's "Simple MNIST convnet" (34,826 parameters; 0.992 on MNIST, about 0.91 on
Fashion-MNIST). It takes uint8 images: a Rescaling layer scales them in the graph, so the export accepts
raw pixels. The test split is used once, after training, for the metrics that go into model.json.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras

from trainer.config import config_to_dict, format_config
from trainer.data.image_datasets import ImageDataset, LabelledImages, load_image_dataset
from trainer.data.pipeline import batched, holdout_split
from trainer.export import layout
from trainer.export.contract import export_saved_model
from trainer.export.spec import ExportResult, ModelInfo
from trainer.runs import default_run_dir, prepare_run_dir, training_callbacks
from trainer.vision.classifier_config import ClassifierConfig
from trainer.vision.classifier_export import FAMILY, classifier_signatures
from trainer.vision.confusion_png import write_confusion_png
from trainer.vision.evaluation import ClassificationReport, classification_report

TRAINER = "vision classifier"
MONITOR = "val_accuracy"
WARMUP_IMAGES = 2


def build_cnn(image_shape: tuple[int, int, int], num_classes: int, dropout: float) -> keras.Model:
    """keras-io mnist_convnet on images scaled to [0, 1]: two conv/pool blocks, dropout, softmax."""
    return keras.Sequential(
        [
            keras.Input(image_shape, name="scaled_images"),
            keras.layers.Conv2D(32, kernel_size=3, activation="relu"),
            keras.layers.MaxPooling2D(pool_size=2),
            keras.layers.Conv2D(64, kernel_size=3, activation="relu"),
            keras.layers.MaxPooling2D(pool_size=2),
            keras.layers.Flatten(),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(num_classes, activation="softmax", name="probabilities"),
        ],
        name="cnn",
    )


NETWORKS: dict[str, Callable[[tuple[int, int, int], int, float], keras.Model]] = {"cnn": build_cnn}


def build_classifier(
    arch: str, image_shape: tuple[int, int, int], num_classes: int, dropout: float
) -> tuple[keras.Model, keras.Model]:
    """(model on uint8 images, the same network on [0, 1] images); they share every weight."""
    network = NETWORKS[arch](image_shape, num_classes, dropout)
    images = keras.Input(image_shape, dtype="uint8", name="images")
    probabilities = network(keras.layers.Rescaling(1 / 255, name="scale")(images))
    return keras.Model(images, probabilities, name=f"{arch}_classifier"), network


@dataclass(frozen=True)
class ClassifierResult:
    """What a classifier job produced: its run dir, the epochs this call ran, the test report and the export."""

    run_dir: Path
    epochs_run: list[int]
    report: ClassificationReport
    export: ExportResult


def _fit(
    model: keras.Model,
    config: ClassifierConfig,
    splits: tuple[LabelledImages, LabelledImages],
    run_dir: Path,
    callbacks: Sequence[keras.callbacks.Callback],
) -> keras.callbacks.History:
    train, validation = splits
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model.fit(
        batched(train, config.batch_size, shuffle_seed=config.seed),
        validation_data=batched(validation, config.batch_size),
        epochs=config.epochs,
        shuffle=False,  # the tf.data pipeline reshuffles every epoch
        callbacks=[*training_callbacks(run_dir, MONITOR, config.patience), *callbacks],
        verbose=1,
    )


def _model_info(
    config: ClassifierConfig,
    command: Sequence[str],
    dataset: ImageDataset,
    splits: tuple[LabelledImages, LabelledImages],
    report: ClassificationReport,
) -> ModelInfo:
    train, validation = splits
    return ModelInfo(
        name=config.model_name,
        family=FAMILY,
        trainer=TRAINER,
        command=command,
        config=config_to_dict(config),
        data={
            "dataset": dataset.name,
            "source": dataset.source,
            "splits": {"train": len(train), "validation": len(validation), "test": len(dataset.test)},
            "validation_from": "train file, seeded shuffle",
        },
        metrics=report.as_metrics(),
        extra={"labels": list(dataset.class_names), "image_shape": list(dataset.image_shape)},
    )


def train_classifier(
    config: ClassifierConfig, command: Sequence[str] = (), callbacks: Sequence[keras.callbacks.Callback] = ()
) -> ClassifierResult:
    """Train, evaluate on the test split, draw the confusion matrix and export the next version.

    command is the argv recorded in model.json; callbacks run after the standard ones (e.g. in tests).
    """
    print(format_config(config))
    keras.utils.set_random_seed(config.seed)
    layout.check_target(config.export_root, config.model_name, FAMILY)
    dataset = load_image_dataset(config.dataset, config.data_dir, config.offline)
    run_dir = prepare_run_dir(config, config.run_dir or default_run_dir(config.model_name), list(command))
    splits = holdout_split(dataset.train, config.validation_fraction, config.seed, config.limit_train)
    model, network = build_classifier(config.arch, dataset.image_shape, len(dataset.class_names), config.dropout)
    history = _fit(model, config, splits, run_dir, callbacks)
    probabilities = model.predict(batched(dataset.test, config.batch_size), verbose=0)
    report = classification_report(probabilities, dataset.test.labels, dataset.class_names)
    print(report.summary())
    write_confusion_png(run_dir / "confusion_matrix.png", report.confusion, dataset.class_names)
    signatures = classifier_signatures(model, network, dataset.class_names, dataset.test.images[:WARMUP_IMAGES])
    export = export_saved_model(
        _model_info(config, command, dataset, splits, report), signatures, config.export_root, track=[model]
    )
    print(f"exported {export.path} (test accuracy {report.accuracy:.4f})")
    return ClassifierResult(run_dir=run_dir, epochs_run=list(history.epoch), report=report, export=export)
