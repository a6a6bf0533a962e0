"""Flags of `python -m trainer vision classifier`, with defaults from keras-io and the Fashion-MNIST benchmark.

Kept apart from the training code so the CLI can build and validate it without loading TensorFlow.
Default epochs and dropout depend on the architecture (`DEFAULT_EPOCHS`, `DEFAULT_DROPOUT`, from the runs in
bench/RESULTS.md): on 2 quiet CPU cores the CNN runs about 15 s per Fashion-MNIST epoch and the deep network
about 35 s, so both defaults finish within 30 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import flag, require
from trainer.data import cifar10
from trainer.data.image_datasets import DATASETS, FOLDER_DATASET
from trainer.export.layout import validate_model_name
from trainer.precisions import PRECISIONS
from trainer.vision.conv_blocks import DEEP_BLOCKS, format_conv_blocks, parse_conv_blocks

ARCHITECTURES = ("mlp", "cnn", "deep")
DATASET_CHOICES = (*DATASETS, cifar10.NAME, FOLDER_DATASET)
DEFAULT_EPOCHS = {"mlp": 30, "cnn": 30, "deep": 36}
DEFAULT_DROPOUT = {"mlp": 0.5, "cnn": 0.5, "deep": 0.25}  # keras-io's 0.5 made the deep net underfit
EARLY_STOPPING_PATIENCE = 5  # without the cosine schedule
LR_SCHEDULES = ("cosine", "plateau", "constant")
STRATEGIES = ("none", "mirrored", "multiworker")  # trainer.distribute.STRATEGY_BUILDERS, without TensorFlow
COLOR_MODES = ("rgb", "grayscale")
NOT_FLIPPED = ("mnist",)  # datasets whose classes change under a mirror image (digits)
QUICK_PRESET = {"limit_train": 12000, "epochs": 2, "batch_size": 64}


@dataclass
class ClassifierConfig:
    """One classifier training job: data, network, optimisation, devices, and where results go."""

    dataset: str = flag("fashion_mnist", "dataset to train on", choices=DATASET_CHOICES)
    data_dir: Path | None = flag(
        None, "local data: the 4 IDX .gz files (MNIST: or mnist.pkl.gz), CIFAR-10's cifar-10-batches-py, or (folder) "
        "one subfolder per class, optionally under train/ and test/ (default: Keras cache, system, download)"
    )
    offline: bool = flag(False, "never download; fail if the data is not found locally")
    image_size: int | None = flag(None, "folder: resize images to SIZE x SIZE (default: their own, common size)")
    color_mode: str = flag("rgb", "folder: colour mode of the images", choices=COLOR_MODES)
    test_fraction: float = flag(0.2, "folder without train/ and test/: fraction held out as the test split")
    arch: str = flag("cnn", "network architecture: textbook MLP, small CNN, deeper VGG-style net", choices=ARCHITECTURES)
    epochs: int | None = flag(None, "maximum number of training epochs (default: 30 for mlp and cnn, 36 for deep)")
    batch_size: int = flag(128, "examples per training step, over all replicas (keras-io: 128)")
    learning_rate: float = flag(1e-3, "initial Adam learning rate (Adam's default)")
    weight_decay: float = flag(0.0, "decoupled weight decay of the kernels: AdamW instead of Adam (Loshchilov & "
                               "Hutter 2019; 0: plain Adam)")
    label_smoothing: float = flag(0.0, "share of each target spread evenly over all classes (Szegedy et al. 2016 "
                                  "use 0.1; 0: plain cross-entropy)")
    lr_schedule: str = flag("cosine", "learning-rate schedule: cosine decay to 0, halve on plateau, or constant",
                            choices=LR_SCHEDULES)
    dropout: float | None = flag(None, "dropout rate before the classification layer (default: keras-io's 0.5 "
                                 "for mlp and cnn, 0.25 for deep)")
    deep_blocks: str = flag(format_conv_blocks(DEEP_BLOCKS), "deep: the convolution blocks, FILTERSxCONVOLUTIONS "
                            "each (that many 3x3 convolutions with batch norm, then 2x2 max pooling)")
    flip: bool = flag(False, "deep: random horizontal flips of training images as well as shifts (not for "
                      "mnist: a mirrored digit is another class)")
    erasing: float = flag(0.0, "deep: probability of erasing a random patch of each training image (random erasing, "
                          "Zhong et al. 2017, who use 0.5)")
    validation_fraction: float = flag(0.1, "fraction of the training split held out for validation (keras-io: 0.1)")
    limit_train: int | None = flag(None, "use only N examples of the training split, before the hold-out")
    patience: int | None = flag(None, "epochs without validation-accuracy gain before early stopping (default: "
                                "--epochs with the cosine schedule, which sets the budget in epochs; "
                                f"{EARLY_STOPPING_PATIENCE} otherwise)")
    seed: int = flag(1, "seed of Python, NumPy, TensorFlow and the data shuffles")
    distribute: str = flag("none", "tf.distribute strategy: one device, MirroredStrategy (local GPUs or --devices), "
                           "MultiWorkerMirroredStrategy (TF_CONFIG)", choices=STRATEGIES)
    precision: str = flag("auto", "dtype policy of training: auto = mixed_float16 on a GPU, mixed_bfloat16 on a CPU "
                          "with bfloat16 instructions, else float32; evaluation and export always run in float32",
                          choices=PRECISIONS)
    devices: str | None = flag(None, "mirrored: comma-separated devices, e.g. /gpu:0,/gpu:1 (default: all GPUs)")
    model_name: str | None = flag(None, "export name (default: <dataset>_classifier)")
    export_root: Path = flag(Path("saved_models"), "folder that holds <model_name>/<version>/ exports")
    tflite: bool = flag(False, "also write model.tflite (serving_default converted by TF Lite, with TF Serving's "
                        "signature metadata) into the same export, for --prefer_tflite_model")
    run_dir: Path | None = flag(None, "folder for logs and checkpoints; reuse it to resume (default: runs/...)")

    def __post_init__(self) -> None:
        """Validate every flag and fill in the derived defaults (epochs, model name)."""
        self.epochs = DEFAULT_EPOCHS[self.arch] if self.epochs is None else self.epochs
        self.dropout = DEFAULT_DROPOUT[self.arch] if self.dropout is None else self.dropout
        if self.patience is None:
            self.patience = self.epochs if self.lr_schedule == "cosine" else EARLY_STOPPING_PATIENCE
        require(not (self.flip and self.dataset in NOT_FLIPPED),
                f"--flip would change the class of {self.dataset} images (a mirrored digit is another digit)")
        require(0 <= self.erasing <= 1, f"--erasing is a probability in [0, 1], got {self.erasing}")
        require(self.arch == "deep" or not (self.flip or self.erasing),
                f"--flip and --erasing augment the deep net only (--arch deep), not --arch {self.arch}")
        blocks = parse_conv_blocks(self.deep_blocks)
        require(self.arch == "deep" or blocks == DEEP_BLOCKS, f"--deep-blocks shapes the deep net only (--arch deep), "
                f"not --arch {self.arch}")
        self.deep_blocks = format_conv_blocks(blocks)
        require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.learning_rate > 0, f"--learning-rate must be positive, got {self.learning_rate}")
        require(0 <= self.dropout < 1, f"--dropout must lie in [0, 1), got {self.dropout}")
        require(self.weight_decay >= 0, f"--weight-decay must not be negative, got {self.weight_decay}")
        require(0 <= self.label_smoothing < 1, f"--label-smoothing must lie in [0, 1), got {self.label_smoothing}")
        for name in ("validation_fraction", "test_fraction"):
            value = getattr(self, name)
            require(0 < value < 1, f"--{name.replace('_', '-')} must lie in (0, 1), got {value}")
        require(
            self.limit_train is None or self.limit_train >= 2,
            f"--limit-train must be at least 2, got {self.limit_train}",
        )
        require(self.image_size is None or self.image_size >= 1, f"--image-size must be positive, got {self.image_size}")
        require(self.patience >= 1, f"--patience must be at least 1, got {self.patience}")
        require(
            self.devices is None or self.distribute == "mirrored",
            f"--devices applies only to --distribute mirrored, not '{self.distribute}'",
        )
        require(
            self.distribute != "multiworker" or self.run_dir is not None,
            "--distribute multiworker needs --run-dir: the one folder every worker of the job writes under",
        )
        self.model_name = validate_model_name(self.model_name or f"{self.dataset}_classifier")
