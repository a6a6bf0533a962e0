"""The signatures of an image-classifier export (export-contract.md, family `image_classifier`).

- `serving_default`: `images` uint8 [N,H,W,C] -> `probabilities` float32 [N,K], `class_ids` int64 [N],
  `classes` string [N];
- `classify`: TF Serving's Classify API: `inputs` = serialized tf.train.Example string [N] whose feature
  `image` is a bytes_list holding the raw uint8 pixels (H*W*C bytes, row-major, no PNG/JPEG) ->
  `classes` string [N,K], `scores` float32 [N,K];
- `predict_images` (28x28 grey only): `images` float32 [N,784] in [0,1] -> `scores` float32 [N,K], the
  contract of TensorFlow Serving's MNIST tutorial client;
- `features`: `images` uint8 [N,H,W,C] -> `features` float32 [N,F], the activations of the network's
  `features` layer (the last hidden layer, before the classification layer), for Fréchet distances of
  generated images in this classifier's feature space.
Scaling and class names live in the graph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from trainer.export.spec import CLASSIFY, DEFAULT_SIGNATURE, Signature
from trainer.vision.networks import FEATURES_LAYER, ClassifierModels

FAMILY = "image_classifier"
FEATURES_SIGNATURE = "features"
EXAMPLE_FEATURE = "image"
MNIST_TUTORIAL_SHAPE = (28, 28, 1)


def serialize_example(image: np.ndarray) -> bytes:
    """A serialized tf.train.Example holding image's raw uint8 pixels as the bytes feature `image`."""
    pixels = tf.train.Feature(bytes_list=tf.train.BytesList(value=[np.asarray(image, np.uint8).tobytes()]))
    return tf.train.Example(features=tf.train.Features(feature={EXAMPLE_FEATURE: pixels})).SerializeToString()


def _label_meanings(class_names: Sequence[str]) -> dict[str, dict[str, object]]:
    labels = list(class_names)
    return {
        "probabilities": {"meaning": "probability of each class, in the order of labels", "labels": labels},
        "class_ids": {"meaning": "index of the most probable class in labels", "labels": labels},
        "classes": {"meaning": "name of the most probable class", "labels": labels},
    }


def _images_spec(warmup_images: np.ndarray) -> tf.TensorSpec:
    return tf.TensorSpec([None, *warmup_images.shape[1:]], tf.uint8, name="images")


def _image_meaning(warmup_images: np.ndarray) -> str:
    height, width, channels = warmup_images.shape[1:]
    return (
        f"{height}x{width}x{channels} images as stored in the dataset, uint8 0..255 (0 = black); "
        "scaled to [0, 1] in the graph"
    )


def _serving_default(model: keras.Model, class_names: Sequence[str], warmup_images: np.ndarray) -> Signature:
    names = tf.constant(list(class_names))

    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = model(images, training=False)
        class_ids = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_ids": class_ids, "classes": tf.gather(names, class_ids)}

    return Signature(
        name=DEFAULT_SIGNATURE,
        fn=serve,
        inputs=[_images_spec(warmup_images)],
        meanings={"images": _image_meaning(warmup_images), **_label_meanings(class_names)},
        warmup={"images": warmup_images},
        description="Classify raw uint8 images: class probabilities, the best class id and its name.",
    )


def _classify(model: keras.Model, class_names: Sequence[str], warmup_images: np.ndarray) -> Signature:
    names = tf.constant(list(class_names))
    image_shape = warmup_images.shape[1:]
    pixel_count = math.prod(image_shape)

    def classify(inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.io.parse_example(inputs, {EXAMPLE_FEATURE: tf.io.FixedLenFeature([], tf.string)})
        encoded = features[EXAMPLE_FEATURE]
        message = f"feature '{EXAMPLE_FEATURE}' must hold {pixel_count} raw uint8 pixel bytes"
        check = tf.debugging.assert_equal(tf.strings.length(encoded), pixel_count, message=message)
        with tf.control_dependencies([check]):
            pixels = tf.io.decode_raw(encoded, tf.uint8)
        probabilities = model(tf.reshape(pixels, [-1, *image_shape]), training=False)
        return {"classes": tf.tile(names[tf.newaxis], [tf.shape(probabilities)[0], 1]), "scores": probabilities}

    labels = list(class_names)
    encoding = {
        "kind": "bytes_list",
        "length": pixel_count,
        "encoding": f"raw uint8 pixels of one {'x'.join(map(str, image_shape))} image, row-major, no PNG/JPEG",
    }
    return Signature(
        name="classify",
        fn=classify,
        inputs=[tf.TensorSpec([None], tf.string, name="inputs")],
        meanings={
            "inputs": {"meaning": "serialized tf.train.Example", "example_features": {EXAMPLE_FEATURE: encoding}},
            "classes": {"meaning": "all class names, the same row for every example", "labels": labels},
            "scores": {"meaning": "probability of each class, aligned with classes", "labels": labels},
        },
        warmup={"inputs": np.array([serialize_example(image) for image in warmup_images], dtype=object)},
        method=CLASSIFY,
        description="TensorFlow Serving Classify API over tf.Examples holding raw pixels.",
    )


def _predict_images(scaled_model: keras.Model, class_names: Sequence[str], warmup_images: np.ndarray) -> Signature:
    pixel_count = math.prod(MNIST_TUTORIAL_SHAPE)

    def predict_images(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": scaled_model(tf.reshape(images, [-1, *MNIST_TUTORIAL_SHAPE]), training=False)}

    flat = (warmup_images.reshape(len(warmup_images), pixel_count) / 255).astype(np.float32)
    return Signature(
        name="predict_images",
        fn=predict_images,
        inputs=[tf.TensorSpec([None, pixel_count], tf.float32, name="images")],
        meanings={
            "images": "flattened 28x28 greyscale images, float32 pixel/255 in [0, 1], row-major",
            "scores": {"meaning": "probability of each class, in the order of labels", "labels": list(class_names)},
        },
        warmup={"images": flat},
        description="TensorFlow Serving's MNIST tutorial client contract (flattened float images).",
    )


def _features(features: keras.Model, feature_size: int, warmup_images: np.ndarray) -> Signature:
    def extract(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"features": tf.cast(features(images, training=False), tf.float32)}

    meaning = (
        f"activations of the {feature_size}-unit ReLU layer '{FEATURES_LAYER}', the network's last hidden "
        "layer before the classification layer; the feature space for Fréchet distances"
    )
    return Signature(
        name=FEATURES_SIGNATURE,
        fn=extract,
        inputs=[_images_spec(warmup_images)],
        meanings={"images": _image_meaning(warmup_images), "features": meaning},
        warmup={"images": warmup_images},
        description="Feature vectors of raw uint8 images (penultimate layer), e.g. for Fréchet distances.",
    )


def classifier_signatures(
    models: ClassifierModels, class_names: Sequence[str], warmup_images: np.ndarray
) -> list[Signature]:
    """All signatures of an image classifier.

    warmup_images (uint8 [n,H,W,C], a few real test images) become the warmup requests. `predict_images`
    is added only for 28x28 greyscale images.
    """
    signatures = [
        _serving_default(models.model, class_names, warmup_images),
        _classify(models.model, class_names, warmup_images),
        _features(models.features, models.feature_size, warmup_images),
    ]
    if tuple(warmup_images.shape[1:]) == MNIST_TUTORIAL_SHAPE:
        signatures.append(_predict_images(models.network, class_names, warmup_images))
    return signatures


def features_description(models: ClassifierModels) -> dict[str, object]:
    """model.json's `features` entry: which signature and layer give the feature vectors, and their size."""
    return {"signature": FEATURES_SIGNATURE, "layer": FEATURES_LAYER, "size": models.feature_size}
