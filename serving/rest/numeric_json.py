"""The fast path of a REST Predict: numeric input arrays read straight from the JSON text, with no Python lists.

A batch of 32 Fashion-MNIST images is 25,088 numbers in about 26,000 nested JSON lists; building those
lists and walking them cost more than the model run (bench/RESULTS.md). Here msgspec checks the whole
document's syntax and hands back each top-level value unparsed (``msgspec.Raw``). An input whose text
holds nothing but numbers, brackets, commas and whitespace, nested regularly, becomes an array through one
call of numpy's text parser. Anything else (named-object instances, strings, a ragged list, a value out of
the dtype's range, an empty list) gives None, and the general decoder in ``json_tensor`` answers it, with
TensorFlow Serving's result or error.
"""

from __future__ import annotations

import math
from functools import lru_cache

import msgspec
import numpy as np

from serving.core.signature import Signature
from serving.rest.json_tensor import MAX_JSON_VALUES, NUMPY_DTYPES, decimals_fit, integers_fit

Fields = dict[str, msgspec.Raw]
_FIELDS = msgspec.json.Decoder(Fields)
_NUMERIC_TEXT = b"0123456789-.eE[], \t\r\n"
_WHITESPACE = b" \t\r\n"
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b"[],")))
_BRACKETS_AS_SPACES = bytes.maketrans(b"[]", b"  ")
_INT64_OVERFLOW = np.iinfo(np.int64).max
"""numpy's text parser reads every integer beyond int64 as this value."""
_PREDICT_KEYS = ({"inputs"}, {"instances"})
MAX_RANK = 32
"""Deeper arrays, and documents of more than MAX_JSON_VALUES / 2 numbers, go to the general decoder,
which holds every document to its nesting and size bounds (a nested list has at most two commas a number)."""


def top_level_fields(body: bytes) -> Fields | None:
    """The document's top-level members, unparsed; None when it is not a well-formed JSON object."""
    try:
        return _FIELDS.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None


def predict_inputs(fields: Fields, signature: Signature) -> tuple[dict[str, np.ndarray], bool] | None:
    """The signature's inputs and whether the body was row format, when every input is a plain numeric array."""
    keys = set(fields) - {"signature_name"}
    if keys not in _PREDICT_KEYS:
        return None
    row_format = keys == {"instances"}
    texts = _input_texts(bytes(fields["instances" if row_format else "inputs"]), signature, row_format)
    if texts is None:
        return None
    arrays = {}
    for name, text in texts.items():
        array = numeric_array(text, signature.inputs[name].dtype)
        if array is None or (row_format and array.ndim == 0) or array.ndim > MAX_RANK:
            return None
        arrays[name] = array
    if sum(array.size for array in arrays.values()) > MAX_JSON_VALUES // 2:
        return None
    return arrays, row_format


def _input_texts(text: bytes, signature: Signature, row_format: bool) -> dict[str, bytes] | None:
    """Each signature input's JSON text: the whole value for a single input, else the named members."""
    names = sorted(signature.inputs)
    if not names:
        return None
    if not text.lstrip().startswith(b"{"):
        return {names[0]: text} if len(names) == 1 else None
    if row_format:
        return None
    members = _FIELDS.decode(text)
    if not all(name in members for name in names):
        return None
    return {name: bytes(members[name]) for name in names}


def numeric_array(text: bytes, dtype: int) -> np.ndarray | None:
    """A regular nested list (or a single number) of integers or decimals as an array of ``dtype``, else None."""
    np_dtype = NUMPY_DTYPES.get(dtype)
    if np_dtype is None or np_dtype.kind not in "iuf" or np_dtype == np.uint64 or text.translate(None, _NUMERIC_TEXT):
        return None
    compact = text.translate(None, _WHITESPACE)
    if b"[]" in compact:
        return None
    shape = regular_shape(compact.translate(None, _NOT_STRUCTURE))
    if shape is None:
        return None
    values = _parse_numbers(compact, np_dtype)
    if values is None or values.size != math.prod(shape):
        return None
    return values.reshape(shape)


def _parse_numbers(compact: bytes, np_dtype: np.dtype) -> np.ndarray | None:
    """The numbers of a whitespace-free numeric JSON text as ``np_dtype``, or None where one does not fit it."""
    is_decimal = np_dtype.kind == "f"
    if not is_decimal and any(marker in compact for marker in (b".", b"e", b"E")):
        return None
    try:
        values = np.fromstring(compact.translate(_BRACKETS_AS_SPACES), dtype=np.float64 if is_decimal else np.int64, sep=",")
    except ValueError:
        return None
    if is_decimal:
        fits = np.isfinite(values).all() and decimals_fit(values, True, np_dtype)
    else:
        fits = not (values == _INT64_OVERFLOW).any() and integers_fit(values, np_dtype)
    return values.astype(np_dtype) if fits else None


def regular_shape(skeleton: bytes) -> tuple[int, ...] | None:
    """The shape of a nested list given only its brackets and commas, or None unless every level is regular.

    Each dimension is read from the length of the first list at its level (where its run of closing
    brackets ends); the whole skeleton must then equal the one a regular array of that shape has.
    """
    rank = len(skeleton) - len(skeleton.lstrip(b"["))
    if rank == 0:
        return () if not skeleton else None
    shape: list[int] = []
    element_length = 0
    for level in range(rank - 1, -1, -1):
        closing = rank - level
        end = skeleton.find(b"]" * closing) + closing - 1
        list_length = end - level + 1
        size, remainder = divmod(list_length - 1, element_length + 1)
        if end < closing - 1 or remainder or size < 1:
            return None
        shape.insert(0, size)
        element_length = list_length
    shape_tuple = tuple(shape)
    return shape_tuple if _skeleton_of(shape_tuple) == skeleton else None


@lru_cache(maxsize=64)
def _skeleton_of(shape: tuple[int, ...]) -> bytes:
    """The brackets and commas of a regular nested list of ``shape`` (read from a text without empty lists)."""
    text = b"[" + b"," * (shape[-1] - 1) + b"]"
    for size in reversed(shape[:-1]):
        text = b"[" + b",".join([text] * size) + b"]"
    return text
