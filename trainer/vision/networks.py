"""The classifier networks (`--arch`), on images already scaled to [0, 1].

Every network ends the same way: a ReLU layer named `features` (the image's feature vector, exported as
the `features` signature for Fréchet distances of generated images), dropout (active only in training) and
the classification layer `probabilities` (softmax, kept float32 under mixed precision).
- `mlp`: the textbook multilayer perceptron, dense layers on flattened pixels (Fashion-MNIST benchmark:
  MLP 256-128-100 reaches 0.883);
- `cnn`: keras-io's "Simple MNIST convnet" (two conv/pool blocks, 32 and 64 filters) with a 128-unit dense
  layer and batch normalisation after each convolution, the "2 Conv + pooling + BN" rows of the benchmark
  (0.93 on Fashion-MNIST, 0.992 on MNIST); without batch norm it stopped at 0.922 on Fashion-MNIST, and
  random shifts made it underfit (0.910 against 0.920 after 12 epochs);
- `deep`: a small VGG-style network: random translations (and, by flag, flips and random erasing of a patch,
  Zhong et al. 2017) as Keras preprocessing layers, which act only in training, then blocks of 3x3
  convolutions with batch normalisation and max pooling, and the dropout of the head (the "CNN with BN
  and augmentation" rows: 0.93-0.94).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras

from trainer.vision.conv_blocks import DEEP_BLOCKS, ConvBlocks, check_fits

FEATURES_LAYER = "features"
CLASSIFICATION_LAYER = "probabilities"
MLP_WIDTHS = (256, 128)
CNN_FILTERS = (32, 64)
CNN_FEATURES = 128
DEEP_FEATURES = 256
TRANSLATION = 0.1  # fraction of the image size an augmented image may shift


@dataclass(frozen=True)
class DeepOptions:
    """The deep net's choices: its conv blocks, horizontal flips, and erasing a random patch with probability `erasing`."""

    blocks: ConvBlocks = DEEP_BLOCKS
    flip: bool = False
    erasing: float = 0.0


NetworkBuilder = Callable[[tuple[int, int, int], int, float, DeepOptions], keras.Model]


def _head(features: int, num_classes: int, dropout: float) -> list[keras.layers.Layer]:
    """The feature layer, dropout and the float32 softmax every network ends with."""
    return [
        keras.layers.Dense(features, activation="relu", name=FEATURES_LAYER),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name=CLASSIFICATION_LAYER),
    ]


def build_mlp(image_shape: tuple[int, int, int], num_classes: int, dropout: float, deep: DeepOptions) -> keras.Model:
    """Flatten -> Dense 256 -> dropout -> Dense 128 (features) -> dropout -> softmax; deep is not used."""
    hidden, features = MLP_WIDTHS
    layers = [
        keras.Input(image_shape, name="scaled_images"),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dropout(dropout),
        *_head(features, num_classes, dropout),
    ]
    return keras.Sequential(layers, name="mlp")


def augmentation(deep: DeepOptions) -> keras.Sequential:
    """Random shifts (and horizontal flips, random erasing) of training images scaled to [0, 1]; identity at inference."""
    layers = [keras.layers.RandomTranslation(TRANSLATION, TRANSLATION, fill_mode="constant")]
    if deep.flip:
        layers.append(keras.layers.RandomFlip("horizontal"))
    if deep.erasing:
        layers.append(keras.layers.RandomErasing(factor=(deep.erasing, deep.erasing), value_range=(0, 1)))
    return keras.Sequential(layers, name="augmentation")


def _conv_block(filters: int, convolutions: int) -> list[keras.layers.Layer]:
    """convolutions x (3x3 conv, batch norm, ReLU), then 2x2 max pooling."""
    layers: list[keras.layers.Layer] = []
    for _ in range(convolutions):
        layers += [
            keras.layers.Conv2D(filters, 3, padding="same", use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
        ]
    return [*layers, keras.layers.MaxPooling2D(2)]


def build_cnn(image_shape: tuple[int, int, int], num_classes: int, dropout: float, deep: DeepOptions) -> keras.Model:
    """keras-io mnist_convnet's two conv/pool blocks with batch norm, a 128-unit feature layer; deep is not used."""
    layers: list[keras.layers.Layer] = [keras.Input(image_shape, name="scaled_images")]
    for filters in CNN_FILTERS:
        layers += _conv_block(filters, 1)
    layers += [keras.layers.Flatten(), *_head(CNN_FEATURES, num_classes, dropout)]
    return keras.Sequential(layers, name="cnn")


def build_deep(image_shape: tuple[int, int, int], num_classes: int, dropout: float, deep: DeepOptions) -> keras.Model:
    """Augmentation, the conv blocks of deep.blocks (by default 28x28 ends at 3x3x128) and a 256-unit feature layer."""
    check_fits(deep.blocks, image_shape)
    layers: list[keras.layers.Layer] = [keras.Input(image_shape, name="scaled_images"), augmentation(deep)]
    for filters, convolutions in deep.blocks:
        layers += _conv_block(filters, convolutions)
    layers += [keras.layers.Flatten(), *_head(DEEP_FEATURES, num_classes, dropout)]
    return keras.Sequential(layers, name="deep")


NETWORKS: dict[str, NetworkBuilder] = {"mlp": build_mlp, "cnn": build_cnn, "deep": build_deep}


@dataclass(frozen=True)
class ClassifierModels:
    """Three views of one network, sharing every weight.

    model: uint8 images [N,H,W,C] -> probabilities (scaling in the graph, the model that is trained);
    network: the same on images already scaled to [0, 1]; features: uint8 images -> the `features` layer.
    """

    model: keras.Model
    network: keras.Model
    features: keras.Model

    @property
    def feature_size(self) -> int:
        """Length of one image's feature vector."""
        return int(self.features.output.shape[-1])


def build_classifier(
    arch: str, image_shape: tuple[int, int, int], num_classes: int, dropout: float, deep: DeepOptions
) -> ClassifierModels:
    """The network `arch` behind a Rescaling layer that turns uint8 pixels into [0, 1] floats."""
    network = NETWORKS[arch](image_shape, num_classes, dropout, deep)
    feature_network = keras.Model(network.inputs, network.get_layer(FEATURES_LAYER).output)
    images = keras.Input(image_shape, dtype="uint8", name="images")
    scaled = keras.layers.Rescaling(1 / 255, name="scale")(images)
    return ClassifierModels(
        model=keras.Model(images, network(scaled), name=f"{arch}_classifier"),
        network=network,
        features=keras.Model(images, feature_network(scaled), name=f"{arch}_features"),
    )
