"""Image classifier: data -> network -> `fit` -> test evaluation -> export (`python -m trainer vision classifier`).

Datasets come from `trainer.data` (Fashion-MNIST, MNIST, CIFAR-10, or a folder of class subfolders), networks
from `trainer.vision.networks` (mlp, cnn, deep). The model takes uint8 images and scales them in the graph, so
the export accepts raw pixels. Validation data is held out from the training split; the test split is used
once, after training, for the metrics that go into model.json. Under `--distribute` the model is built and
compiled inside the strategy's scope; under `--distribute multiworker` every worker trains and only the chief
evaluates and exports (`trainer.multiworker`). Training runs under the `--precision` dtype policy; a model trained
under a mixed policy is copied into a float32 twin for the test evaluation and the export, so the export
computes exactly what was evaluated and runs on any TensorFlow Serving build.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras

from trainer.config import format_config
from trainer.data import cifar10
from trainer.data.image_datasets import (
    FOLDER_DATASET,
    ImageDataset,
    LabelledImages,
    load_image_dataset,
)
from trainer.data.image_folder import FolderOptions, load_image_folder
from trainer.data.pipeline import batched, holdout_split
from trainer.distribute import (
    FLOAT32_POLICY,
    describe,
    dtype_policy,
    dtype_policy_scope,
    make_strategy,
    parse_devices,
)
from trainer.export import layout
from trainer.export.contract import export_saved_model
from trainer.export.spec import ExportResult, ModelInfo, job_model_info
from trainer.multiworker import AverageWorkerStatistics, WorkerRole, take_chief_state, worker_role, worker_run_dir
from trainer.runs import default_run_dir, prepare_run_dir, training_callbacks
from trainer.schedules import cosine_decay
from trainer.vision.classifier_config import ClassifierConfig
from trainer.vision.classifier_export import (
    FAMILY,
    classifier_signatures,
    features_description,
)
from trainer.vision.confusion_png import write_confusion_png
from trainer.vision.conv_blocks import parse_conv_blocks
from trainer.vision.evaluation import ClassificationReport, classification_report
from trainer.vision.networks import ClassifierModels, DeepOptions, build_classifier
from trainer.vision.objective import adam, classification_loss

TRAINER = "vision classifier"
MONITOR = "val_accuracy"
WARMUP_IMAGES = 2
FINAL_WEIGHTS = "final.weights.h5"  # each worker's weights after multi-worker training: the same on all
PLATEAU_FACTOR, PLATEAU_PATIENCE = 0.5, 2  # --lr-schedule plateau: halve after 2 epochs without val_loss gain

Splits = tuple[LabelledImages, LabelledImages]


@dataclass(frozen=True)
class ClassifierResult:
    """What a classifier job produced: its run dir, the epochs this call ran, the test report and the export."""

    run_dir: Path
    epochs_run: list[int]
    report: ClassificationReport
    export: ExportResult


def load_dataset(config: ClassifierConfig) -> ImageDataset:
    """The dataset config.dataset names, from config.data_dir or the usual local places."""
    if config.dataset == cifar10.NAME:
        return cifar10.load_cifar10(config.data_dir, config.offline)
    if config.dataset == FOLDER_DATASET:
        options = FolderOptions(config.image_size, config.color_mode, config.test_fraction, config.seed)
        return load_image_folder(config.data_dir, options)
    return load_image_dataset(config.dataset, config.data_dir, config.offline)


def learning_rate(config: ClassifierConfig, train_size: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """Adam's learning rate: cosine decay to 0 over every step of every epoch, or a constant (plateau, constant)."""
    if config.lr_schedule != "cosine":
        return config.learning_rate
    return cosine_decay(config.learning_rate, config.epochs, train_size, config.batch_size)


def _schedule_callbacks(config: ClassifierConfig) -> list[keras.callbacks.Callback]:
    if config.lr_schedule != "plateau":
        return []
    return [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE)]


def _network(config: ClassifierConfig, dataset: ImageDataset, policy: str) -> ClassifierModels:
    """The uncompiled classifier of config.arch, its layers built under dtype policy `policy`."""
    with dtype_policy_scope(policy):
        return build_classifier(
            config.arch, dataset.image_shape, len(dataset.class_names), config.dropout,
            DeepOptions(parse_conv_blocks(config.deep_blocks), flip=config.flip, erasing=config.erasing),
        )


def _build(config: ClassifierConfig, dataset: ImageDataset, train_size: int, policy: str) -> ClassifierModels:
    """The compiled classifier; call inside the strategy's scope so its variables are mirrored."""
    models = _network(config, dataset, policy)
    models.model.compile(
        optimizer=adam(learning_rate(config, train_size), config.weight_decay),
        loss=classification_loss(len(dataset.class_names), config.label_smoothing),
        metrics=["accuracy"],
    )
    return models


def float32_twin(
    config: ClassifierConfig, dataset: ImageDataset, trained: ClassifierModels, policy: str, local: bool = False
) -> ClassifierModels:
    """trained itself under float32, else a float32 copy of it (mixed policies keep float32 variables).

    `local` asks for a copy in any case: one built outside the strategy, so that evaluating and exporting a
    model trained across workers runs no collective op (the other workers have stopped by then).
    """
    if policy == FLOAT32_POLICY and not local:
        return trained
    twin = _network(config, dataset, FLOAT32_POLICY)
    twin.model.set_weights(trained.model.get_weights())
    return twin


def _fit(
    model: keras.Model,
    config: ClassifierConfig,
    splits: Splits,
    run_dir: Path,
    callbacks: Sequence[keras.callbacks.Callback],
) -> keras.callbacks.History:
    train, validation = splits
    standard = [*training_callbacks(run_dir, MONITOR, config.patience), *_schedule_callbacks(config)]
    return model.fit(
        batched(train, config.batch_size, shuffle_seed=config.seed),
        validation_data=batched(validation, config.batch_size),
        epochs=config.epochs,
        shuffle=False,  # the tf.data pipeline reshuffles every epoch
        callbacks=[*standard, *callbacks],
        verbose=1,
    )


def _evaluate(model: keras.Model, dataset: ImageDataset, batch_size: int, run_dir: Path) -> ClassificationReport:
    """Test accuracy, loss and per-class accuracy, printed and drawn as a confusion matrix in run_dir."""
    probabilities = model.predict(batched(dataset.test, batch_size), verbose=0)
    report = classification_report(probabilities, dataset.test.labels, dataset.class_names)
    print(report.summary())
    write_confusion_png(run_dir / "confusion_matrix.png", report.confusion, dataset.class_names)
    return report


def _model_info(
    config: ClassifierConfig,
    command: Sequence[str],
    dataset: ImageDataset,
    splits: Splits,
    report: ClassificationReport,
    extra: dict[str, object],
) -> ModelInfo:
    train, validation = splits
    return job_model_info(
        config,
        FAMILY,
        TRAINER,
        command,
        data=dataset.describe_splits(train, validation),
        metrics=report.as_metrics(),
        extra={"labels": list(dataset.class_names), "image_shape": list(dataset.image_shape), **extra},
    )


def _run_dir(config: ClassifierConfig, role: WorkerRole | None, command: Sequence[str]) -> Path:
    """This worker's run dir, holding the chief's resume state when it is not the chief's own."""
    chief_dir = config.run_dir or default_run_dir(config.model_name)
    run_dir = prepare_run_dir(config, worker_run_dir(chief_dir, role), list(command), resume_with=chief_dir)
    if run_dir != chief_dir:
        take_chief_state(chief_dir, run_dir)
    return run_dir


def train_classifier(
    config: ClassifierConfig, command: Sequence[str] = (), callbacks: Sequence[keras.callbacks.Callback] = ()
) -> ClassifierResult | None:
    """Train, evaluate on the test split, draw the confusion matrix and export the next version.

    command is the argv recorded in model.json; callbacks run after the standard ones (e.g. in tests).
    A multi-worker job's workers other than the chief train only, and return None.
    """
    print(format_config(config))
    strategy = make_strategy(config.distribute, parse_devices(config.devices))  # before any other TF work
    role = worker_role(strategy)
    training = {**describe(strategy), "dtype_policy": dtype_policy(config.precision)}
    print(f"training on {training}")
    keras.utils.set_random_seed(config.seed)
    layout.check_target(config.export_root, config.model_name, FAMILY)
    dataset = load_dataset(config)
    splits = holdout_split(dataset.train, config.validation_fraction, config.seed, config.limit_train)
    with strategy.scope():
        models = _build(config, dataset, len(splits[0]), training["dtype_policy"])
    run_dir = _run_dir(config, role, command)
    averaging = [] if role is None else [AverageWorkerStatistics(strategy)]
    history = _fit(models.model, config, splits, run_dir, [*averaging, *callbacks])
    if role is not None:
        models.model.save_weights(str(run_dir / FINAL_WEIGHTS))
    if role is not None and not role.is_chief:
        print(f"{role.name} trained {len(history.epoch)} epochs; the chief evaluates and exports")
        return None
    models = float32_twin(config, dataset, models, training["dtype_policy"], local=role is not None)
    report = _evaluate(models.model, dataset, config.batch_size, run_dir)
    signatures = classifier_signatures(models, dataset.class_names, dataset.test.images[:WARMUP_IMAGES])
    extra = {"features": features_description(models), "training": training}
    info = _model_info(config, command, dataset, splits, report, extra)
    export = export_saved_model(info, signatures, config.export_root, tflite=config.tflite)
    print(f"exported {export.path} (test accuracy {report.accuracy:.4f})")
    return ClassifierResult(run_dir=run_dir, epochs_run=list(history.epoch), report=report, export=export)
