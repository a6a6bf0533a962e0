"""One loaded SavedModel version: its signatures (read from the SavedModel proto) and how to run them.

Like TensorFlow Serving, a version is loaded into its own graph and session (TensorFlow's SavedModel
loader: variables restored, the init op run) and a signature runs as one session callable made from
``CallableOptions`` (C++ ``Session::MakeCallable``) that feeds the SignatureDef's input tensors and fetches
the output tensors the request asked for (all of them without an output filter). As in TF Serving's
``predict_util.cc``, request shapes are not compared with the SignatureDef: TensorFlow decides whether the
graph can compute them (a half_plus_two with input ``[?,1]`` answers a scalar too) and answers
INVALID_ARGUMENT with its own message when it cannot. Python's ``Session.run`` would instead refuse any feed
whose shape differs from the placeholder's. Besides matching what the real server executes, this costs
less per call than TensorFlow 2's Python function-call machinery (bench/RESULTS.md, live play).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from google.protobuf.message import DecodeError
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, saved_model_pb2

from serving.core.signature import INIT_OP_SIGNATURE, Signature, signature_from_proto
from serving.core.tensors import DTYPE_BY_NUMPY, NUMPY_BY_DTYPE, dtype_name
from serving.errors import ServingError, from_tensorflow_error, invalid_argument, not_found

SAVED_MODEL_FILENAMES = ("saved_model.pb", "saved_model.pbtxt")
DEADLINE_MESSAGE = "Deadline exceeded while the model ran; the run was cancelled"
TIMEOUT_STEP = 1.25
SAVED_MODEL_FORMAT = "saved_model"


class SignatureCall(Protocol):
    """How a servable runs one signature: positional inputs in ``input_aliases`` order, outputs as asked."""

    input_aliases: tuple[str, ...]
    output_aliases: tuple[str, ...]

    def callable_for(self, outputs: tuple[str, ...], timeout_ms: int | None = None) -> Callable[..., list[Any]]: ...


class SessionSignature:
    """One signature bound to its session: a session callable per set of outputs fetched, made on first use.

    Feeds are positional in input-alias order. A request that filters its outputs fetches only those, so the
    session runs only what they need, as TensorFlow Serving does; a signature naming a tensor the graph lacks
    fails only the calls that fetch or feed it.
    """

    def __init__(self, session: tf.compat.v1.Session, signature_def: meta_graph_pb2.SignatureDef) -> None:
        self.input_aliases = tuple(sorted(signature_def.inputs))
        self.output_aliases = tuple(sorted(signature_def.outputs))
        self._session, self._signature_def = session, signature_def
        self._callables: dict[tuple[tuple[str, ...], int | None], Callable[..., list[Any]]] = {}
        self._lock = threading.Lock()
        self.callable_for(self.output_aliases)

    def callable_for(self, outputs: tuple[str, ...], timeout_ms: int | None = None) -> Callable[..., list[Any]]:
        """The session callable that feeds every input and fetches `outputs` (aliases, in that order), and whose
        run TensorFlow cancels after `timeout_ms` (None: never)."""
        key = (outputs, timeout_ms)
        run = self._callables.get(key)
        if run is not None:
            return run
        with self._lock:
            if key not in self._callables:
                self._callables[key] = self._bind(outputs, timeout_ms)
            return self._callables[key]

    def _bind(self, outputs: tuple[str, ...], timeout_ms: int | None) -> Callable[..., list[Any]]:
        options = config_pb2.CallableOptions(
            feed=[self._signature_def.inputs[alias].name for alias in self.input_aliases],
            fetch=[self._signature_def.outputs[alias].name for alias in outputs],
        )
        if timeout_ms is not None:
            options.run_options.timeout_in_ms = timeout_ms
        try:
            return self._session._make_callable_from_options(options)  # C++ MakeCallable: no Python feed checks
        except tf.errors.OpError as error:
            return _refuse(error.message)


@dataclass
class Servable:
    """A model version ready for inference."""

    name: str
    version: int
    path: str
    signatures: Mapping[str, Signature]
    signature_defs: Mapping[str, meta_graph_pb2.SignatureDef]
    _calls: Mapping[str, SignatureCall] = field(repr=False)
    _session: Any = field(repr=False)  # what runs the signatures (a Session, a TF Lite interpreter pool)
    model_format: str = SAVED_MODEL_FORMAT  # which file of the version serves: SavedModel or "tflite"

    def find_signature(self, name: str) -> Signature | None:
        return self.signatures.get(name)

    def run(
        self, signature: Signature, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> dict[str, np.ndarray]:
        """Call the signature on already validated inputs; return `outputs` (validated aliases; None: every
        output) as numpy. Callers that pass the same outputs in one order share one session callable.

        With a `deadline` (time.monotonic()), TensorFlow cancels the run once it passes (within a quarter of
        the time that was left: see `run_timeout_ms`), so no work goes on for a caller that has given up.
        """
        call = self._calls[signature.name]
        fetched = call.output_aliases if outputs is None else tuple(outputs)
        timeout_ms = None if deadline is None else run_timeout_ms(deadline - time.monotonic())
        try:
            values = call.callable_for(fetched, timeout_ms)(*(inputs[alias] for alias in call.input_aliases))
        except tf.errors.DeadlineExceededError:
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, DEADLINE_MESSAGE) from None
        except tf.errors.OpError as error:
            raise from_tensorflow_error(error.error_code, error.message) from None
        except (TypeError, ValueError) as error:
            raise invalid_argument(f"signature {signature.name!r} rejected the inputs: {error}") from None
        return dict(zip(fetched, values))


def run_timeout_ms(remaining_seconds: float) -> int:
    """The run timeout for a call with `remaining_seconds` left: the smallest power of 1.25 ms at or above it.

    A session callable's timeout is fixed when it is made (``CallableOptions.run_options``), so calls share
    callables by these steps: a few dozen cover 1 ms to an hour, and a run stops at most 25 % after its
    deadline.
    """
    milliseconds = max(remaining_seconds * 1000.0, 1.0)
    return math.ceil(TIMEOUT_STEP ** math.ceil(math.log(milliseconds, TIMEOUT_STEP)))


def find_saved_model_file(path: str) -> str:
    for filename in SAVED_MODEL_FILENAMES:
        candidate = os.path.join(path, filename)
        if os.path.isfile(candidate):
            return candidate
    raise not_found(f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {path}")


def read_meta_graph(path: str, tags: frozenset[str]) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef whose tag set equals ``tags`` (TensorFlow's rule for choosing one)."""
    saved_model_file = find_saved_model_file(path)
    saved_model = saved_model_pb2.SavedModel()
    with open(saved_model_file, "rb") as handle:
        content = handle.read()
    try:
        if saved_model_file.endswith(".pbtxt"):
            text_format.Parse(content.decode("utf-8"), saved_model)
        else:
            saved_model.ParseFromString(content)
    except (DecodeError, text_format.ParseError, UnicodeDecodeError) as error:
        raise ServingError(grpc.StatusCode.DATA_LOSS, f"Could not parse SavedModel at {saved_model_file}: {error}") from None
    for meta_graph in saved_model.meta_graphs:
        if frozenset(meta_graph.meta_info_def.tags) == tags:
            return meta_graph
    available = [sorted(graph.meta_info_def.tags) for graph in saved_model.meta_graphs]
    raise not_found(f"Could not find meta graph def matching supplied tags: {sorted(tags)} (available: {available})")


def load_servable(name: str, version: int, path: str, tags: frozenset[str]) -> Servable:
    """Load one version directory; raises ServingError with TensorFlow's message when it is unusable."""
    meta_graph = read_meta_graph(path, tags)
    session = _open_session(path, tags)
    return build_servable(
        name, version, path, dict(meta_graph.signature_def), lambda value: SessionSignature(session, value), session
    )


def build_servable(
    name: str,
    version: int,
    path: str,
    signature_defs: dict[str, meta_graph_pb2.SignatureDef],
    bind: Callable[[meta_graph_pb2.SignatureDef], SignatureCall],
    runtime: Any,
    model_format: str = SAVED_MODEL_FORMAT,
) -> Servable:
    """A Servable whose runnable signatures (all but the init op) are bound by ``bind`` to ``runtime``."""
    runnable = {key: value for key, value in signature_defs.items() if key != INIT_OP_SIGNATURE}
    return Servable(
        name=name,
        version=version,
        path=path,
        signatures={key: signature_from_proto(key, value) for key, value in runnable.items()},
        signature_defs=signature_defs,
        _calls={key: bind(value) for key, value in runnable.items()},
        _session=runtime,
        model_format=model_format,
    )


def _open_session(path: str, tags: frozenset[str]) -> tf.compat.v1.Session:
    """A session holding the version's graph, restored and initialised by TensorFlow's SavedModel loader.

    Its config is the process's (thread pools and GPU options set from the server's flags).
    """
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    try:
        with graph.as_default(), _quiet_tensorflow_logger():
            tf.compat.v1.saved_model.loader.load(session, sorted(tags), path)
    except (tf.errors.OpError, ValueError, OSError, RuntimeError, KeyError) as error:
        session.close()
        message = getattr(error, "message", str(error))
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"Failed to load SavedModel at {path}: {message}") from None
    return session


@contextmanager
def _quiet_tensorflow_logger() -> Iterator[None]:
    """Hide the loader's advice to TensorFlow 2 users to call tf.saved_model.load, which does not apply here."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _refuse(message: str) -> Callable[..., list[Any]]:
    def run(*_: Any) -> list[Any]:
        raise invalid_argument(message)

    return run


def check_inputs(signature: Signature, inputs: Mapping[str, np.ndarray]) -> None:
    """Reject missing, extra or mistyped inputs with TensorFlow Serving's messages; shapes are TensorFlow's call."""
    expected = set(signature.inputs)
    sent = set(inputs)
    if len(sent) != len(expected):
        raise invalid_argument(
            f"input size does not match signature: {len(sent)}!={len(expected)} "
            f"len({_set_text(sent)}) != len({_set_text(expected)}). "
            f"Sent extra: {_set_text(sent - expected)}. Missing but required: {_set_text(expected - sent)}."
        )
    missing = sorted(expected - sent)
    if missing:
        raise invalid_argument(
            f"Signature input alias: {missing[0]}(feed name: {missing[0]}) not found in request and no default value "
            f"provided. Inputs expected to be in the request {_set_text(expected)}, or default input alias set: . "
            f"The request has {_set_text(sent)}."
        )
    for index, alias in enumerate(sorted(expected)):
        _check_dtype(index, signature.inputs[alias].dtype, inputs[alias], alias)


def _check_dtype(index: int, dtype: int, value: np.ndarray, alias: str) -> None:
    expected = NUMPY_BY_DTYPE.get(dtype)
    if expected is None or value.dtype == expected:
        return
    provided = "string" if value.dtype.kind in "OSU" else dtype_name(DTYPE_BY_NUMPY.get(value.dtype, 0))
    raise invalid_argument(
        f"Expects arg[{index}] to be {dtype_name(dtype)} but {provided} is provided (input '{alias}')"
    )


def _set_text(names: set[str]) -> str:
    return "{" + ",".join(sorted(names)) + "}"
