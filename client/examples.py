"""tf.train.Example for the Classify and Regress APIs: built from plain dicts, and written as REST JSON.

A feature's kind follows TF Serving's REST rules for every transport: bytes and str make a bytes_list,
floats a float_list, ints and bools an int64_list. So ``{"x": 2.0}`` and ``{"x": 2}`` differ on gRPC
exactly as they do on REST.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
import tensorflow as tf

from client.errors import invalid_argument

FeatureValues = Union[bytes, str, float, int, bool, Sequence[Any], np.ndarray]
ExampleLike = Union[Mapping[str, FeatureValues], tf.train.Example]


def to_example(example: ExampleLike) -> tf.train.Example:
    """``example`` itself, or a tf.train.Example holding each ``name: value(s)`` of a dict."""
    if isinstance(example, tf.train.Example):
        return example
    if not isinstance(example, Mapping):
        raise invalid_argument(f"an example must be a dict or a tf.train.Example; got {type(example).__name__}")
    return tf.train.Example(
        features=tf.train.Features(feature={name: _feature(name, values) for name, values in example.items()})
    )


def _feature(name: str, values: FeatureValues) -> tf.train.Feature:
    items = np.asarray(values, dtype=object).reshape(-1).tolist()
    if all(isinstance(item, (bytes, str)) for item in items):
        encoded = [item.encode("utf-8") if isinstance(item, str) else item for item in items]
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=encoded))
    if all(isinstance(item, (bool, int, np.integer, np.bool_)) for item in items):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(item) for item in items]))
    if all(isinstance(item, (float, int, np.floating, np.integer)) for item in items):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(item) for item in items]))
    raise invalid_argument(f"feature '{name}' must hold only bytes/str, only ints or only numbers; got {values!r}")


def example_to_json(example: tf.train.Example) -> dict[str, list[Any]]:
    """The REST form of an example: bytes as ``{"b64"}`` (via tensors.json_dumps), floats written with a dot."""
    return {name: _feature_values(feature) for name, feature in example.features.feature.items()}


def _feature_values(feature: tf.train.Feature) -> list[Any]:
    kind = feature.WhichOneof("kind")
    if kind is None:
        return []
    return list(getattr(feature, kind).value)
