"""The generator and discriminator of each `--arch`, on images scaled to [-1, 1].

- `fc`: the textbook fully-connected GAN (Goodfellow et al. 2014, in the shape of the common PyTorch-GAN
  reference): generator Dense 2w-4w-8w with LeakyReLU(0.2) and batch norm, tanh pixels; discriminator
  Dense 4w-2w with LeakyReLU(0.2), one logit;
- `dcgan`: keras-io's MNIST DCGAN ("GAN overriding Model.train_step", model-references 1.3, older lineage)
  with Radford et al.'s batch norm in the generator and a tanh output: Dense(H/4*W/4*w) -> two
  Conv2DTranspose(w, 4, stride 2) -> Conv2D(C, 7, tanh); discriminator Conv2D(w/2, 3, stride 2) ->
  Conv2D(w, 3, stride 2), LeakyReLU(0.2), global max pooling, one logit;
- `cgan`: the DCGAN generator conditioned on labels as in keras-io's conditional GAN (1.4): the one-hot label
  is concatenated to z, and broadcast to H x W x K channels concatenated to the image. Its discriminator sees
  the whole image: two stride-2 4x4 convolutions (w and 2w filters, LeakyReLU), then flatten, dropout 0.3 and
  one logit, as in TensorFlow's DCGAN tutorial, plus Miyato & Koyama's projection term (the inner product of
  those features with a learned embedding of the label). keras-io's global max pooling over two 3x3
  convolutions judges only the most real-looking 7x7 patch, so the label could not constrain the whole
  image: its samples showed the requested class, but with a speckled texture that the measuring classifiers
  read as other classes; the projection then raised the label accuracy of the whole-image discriminator
  (bench/RESULTS.md).
w is `--width` (keras-io: 128). Conditional networks take [inputs, labels] (labels int64 [N]).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras

LEAK = 0.2  # LeakyReLU slope of keras-io and Radford et al.
OUTPUT_KERNEL = 7  # keras-io: Conv2D(channels, (7, 7)) turns the upsampled features into pixels
WHOLE_IMAGE_DROPOUT = 0.3  # the dropout rate of TensorFlow's DCGAN tutorial discriminator, here on the flattened features

Inputs = tuple["keras.KerasTensor | list[keras.KerasTensor]", keras.KerasTensor]  # (model inputs, merged tensor)


def _one_hot(labels: keras.KerasTensor, num_classes: int) -> keras.KerasTensor:
    return keras.layers.CategoryEncoding(num_classes, output_mode="one_hot", name="one_hot_labels")(labels)


def _generator_inputs(latent_dim: int, num_classes: int | None) -> Inputs:
    """z, plus for a conditional network int64 labels whose one-hot code is concatenated to z."""
    z = keras.Input((latent_dim,), name="z")
    if num_classes is None:
        return z, z
    labels = keras.Input((), dtype="int64", name="labels")
    return [z, labels], keras.layers.Concatenate()([z, _one_hot(labels, num_classes)])


def _discriminator_inputs(image_shape: tuple[int, int, int], num_classes: int | None) -> Inputs:
    """Images in [-1, 1], plus for a conditional network labels broadcast to one-hot image channels."""
    images = keras.Input(image_shape, name="scaled_images")
    if num_classes is None:
        return images, images
    labels = keras.Input((), dtype="int64", name="labels")
    height, width, _ = image_shape
    planes = keras.layers.Reshape((1, 1, num_classes))(_one_hot(labels, num_classes))
    planes = keras.layers.UpSampling2D((height, width))(planes)
    return [images, labels], keras.layers.Concatenate()([images, planes])


def _dense_block(x: keras.KerasTensor, units: int, batch_norm: bool) -> keras.KerasTensor:
    x = keras.layers.Dense(units, use_bias=not batch_norm)(x)
    if batch_norm:
        x = keras.layers.BatchNormalization()(x)
    return keras.layers.LeakyReLU(LEAK)(x)


def fc_generator(image_shape: tuple[int, int, int], latent_dim: int, width: int, num_classes: int | None) -> keras.Model:
    """z -> Dense 2w, 4w, 8w (batch norm after the first) -> tanh pixels."""
    inputs, x = _generator_inputs(latent_dim, num_classes)
    for units, batch_norm in ((2 * width, False), (4 * width, True), (8 * width, True)):
        x = _dense_block(x, units, batch_norm)
    x = keras.layers.Dense(math.prod(image_shape), activation="tanh")(x)
    return keras.Model(inputs, keras.layers.Reshape(image_shape)(x), name="generator")


def fc_discriminator(image_shape: tuple[int, int, int], width: int, num_classes: int | None) -> keras.Model:
    """Flattened pixels -> Dense 4w, 2w with LeakyReLU -> one logit (real vs generated)."""
    inputs, x = _discriminator_inputs(image_shape, num_classes)
    x = keras.layers.Flatten()(x)
    for units in (4 * width, 2 * width):
        x = _dense_block(x, units, batch_norm=False)
    return keras.Model(inputs, keras.layers.Dense(1, name="logit")(x), name="discriminator")


def conv_generator(
    image_shape: tuple[int, int, int], latent_dim: int, width: int, num_classes: int | None
) -> keras.Model:
    """z -> Dense to an H/4 x W/4 x w map -> two stride-2 transposed convolutions -> Conv2D(C, 7, tanh)."""
    height, image_width, channels = image_shape
    inputs, x = _generator_inputs(latent_dim, num_classes)
    x = _dense_block(x, height // 4 * image_width // 4 * width, batch_norm=True)
    x = keras.layers.Reshape((height // 4, image_width // 4, width))(x)
    for _ in range(2):
        x = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.LeakyReLU(LEAK)(keras.layers.BatchNormalization()(x))
    pixels = keras.layers.Conv2D(channels, OUTPUT_KERNEL, padding="same", activation="tanh")(x)
    return keras.Model(inputs, pixels, name="generator")


def conv_discriminator(image_shape: tuple[int, int, int], width: int, num_classes: int | None) -> keras.Model:
    """Two stride-2 convolutions (w/2 and w filters) with LeakyReLU -> global max pooling -> one logit."""
    inputs, x = _discriminator_inputs(image_shape, num_classes)
    for filters in (max(1, width // 2), width):
        x = keras.layers.LeakyReLU(LEAK)(keras.layers.Conv2D(filters, 3, strides=2, padding="same")(x))
    x = keras.layers.GlobalMaxPooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="logit")(x), name="discriminator")


def _projection_logit(features: keras.KerasTensor, labels: keras.KerasTensor, num_classes: int) -> keras.KerasTensor:
    """Dense(1)(features) + <embedding(label), features>: Miyato & Koyama's projection discriminator term."""
    unconditional = keras.layers.Dense(1, name="unconditional_logit")(features)
    label_vectors = keras.layers.Embedding(num_classes, features.shape[-1], name="label_projection")(labels)
    projection = keras.layers.Dot(axes=1, name="projection")([label_vectors, features])
    return keras.layers.Add(name="logit")([unconditional, projection])


def whole_image_discriminator(image_shape: tuple[int, int, int], width: int, num_classes: int | None) -> keras.Model:
    """Two stride-2 4x4 convolutions (w and 2w filters) with LeakyReLU -> flatten -> dropout -> one logit;
    a conditional network adds the projection of its features onto the label's embedding to the logit."""
    inputs, x = _discriminator_inputs(image_shape, num_classes)
    for filters in (width, 2 * width):
        x = keras.layers.LeakyReLU(LEAK)(keras.layers.Conv2D(filters, 4, strides=2, padding="same")(x))
    x = keras.layers.Dropout(WHOLE_IMAGE_DROPOUT)(keras.layers.Flatten()(x))
    if num_classes is None:
        return keras.Model(inputs, keras.layers.Dense(1, name="logit")(x), name="discriminator")
    return keras.Model(inputs, _projection_logit(x, inputs[1], num_classes), name="discriminator")


GeneratorBuilder = Callable[[tuple[int, int, int], int, int, "int | None"], keras.Model]
DiscriminatorBuilder = Callable[[tuple[int, int, int], int, "int | None"], keras.Model]
NETWORKS: dict[str, tuple[GeneratorBuilder, DiscriminatorBuilder]] = {
    "fc": (fc_generator, fc_discriminator),
    "dcgan": (conv_generator, conv_discriminator),
    "cgan": (conv_generator, whole_image_discriminator),
}


def build_networks(
    arch: str, image_shape: tuple[int, int, int], latent_dim: int, width: int, num_classes: int | None
) -> tuple[keras.Model, keras.Model]:
    """(generator, discriminator) of arch; num_classes makes both conditional (None: unconditional)."""
    build_generator, build_discriminator = NETWORKS[arch]
    return (
        build_generator(tuple(image_shape), latent_dim, width, num_classes),
        build_discriminator(tuple(image_shape), width, num_classes),
    )
