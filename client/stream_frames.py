"""Frames in, words out: a frame prepared as the model's signature wants it, and an answer read as a caption.

Image models get each frame fitted like an image file (``client.images.fit_frame``: size, colour, dtype).
Policies trained on stacked grey frames (DQN on Atari: uint8 ``[N,84,84,4]``, oldest first along the
last axis) get the last K frames stacked, with the first frame repeated until K have been seen; K comes
from ``--frame-stack`` or from a ``dqn_policy`` contract, since a stack of 4 looks like RGBA otherwise.
Answers are read by output kind: the name output (``classes``, ``action_meanings``) or the index output
(``class_ids``, ``actions``) gives the prediction, the class-probability (or Q-value) output the top scores.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from client.errors import InputError
from client.images import fit_frame, image_input
from client.messages import SignatureSpec
from client.scores import probability_output

POLICY_FAMILIES = ("dqn_policy",)
STACK_AXIS = -1
"""Stacked frames lie along the input's last axis, oldest first (the DQN export's contract)."""


def frame_preparer(signature_name: str, spec: SignatureSpec, frame_stack: int | None) -> Callable[[np.ndarray], np.ndarray]:
    """A function from one RGB frame to a batch of one as the signature's only input takes it."""
    input_spec = image_input(signature_name, spec)
    if not frame_stack:
        return lambda frame: fit_frame(frame, input_spec)[np.newaxis]
    return _FrameStack(input_spec, frame_stack)


class _FrameStack:
    """The last ``size`` frames, grey and fitted, stacked along the input's last axis (a policy's observation)."""

    def __init__(self, spec: tf.TensorSpec, size: int) -> None:
        dims = spec.shape.as_list()
        if spec.shape.rank != 4 or dims[3] not in (None, size):
            raise InputError(f'--frame-stack {size} needs an input of shape [N,H,W,{size}]; "{spec.name}" is {spec.shape}')
        self.frame_spec = tf.TensorSpec([None, dims[1], dims[2], 1], spec.dtype, name=spec.name)
        self.frames: deque[np.ndarray] = deque(maxlen=size)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        grey = fit_frame(frame, self.frame_spec)[:, :, 0]
        while len(self.frames) < self.frames.maxlen - 1:
            self.frames.append(grey)
        self.frames.append(grey)
        return np.stack(self.frames, axis=STACK_AXIS)[np.newaxis]


def contract_frame_stack(contract: dict[str, Any] | None, spec: SignatureSpec) -> int | None:
    """Frames a policy's contract stacks (its input's last dimension), or None for other models."""
    if not contract or contract.get("family") not in POLICY_FAMILIES:
        return None
    dims = next(iter(spec.inputs.values())).shape.as_list()
    return dims[-1] if len(dims) == 4 else None


def contract_labels(contract: dict[str, Any] | None, signature_name: str) -> list[str] | None:
    """Names of the classes or actions the signature's outputs index, as model.json gives them."""
    if not contract:
        return None
    for described in contract.get("outputs", {}).get(signature_name, {}).values():
        if isinstance(described, dict) and described.get("labels"):
            return described["labels"]
    return contract.get("labels") or contract.get("action_meanings")


def caption_lines(spec: SignatureSpec, outputs: dict[str, np.ndarray], labels: list[str] | None, top: int) -> list[str]:
    """The prediction, then the ``top`` best scores with their names, for one answered frame."""
    scores_output = probability_output(spec, outputs)
    lines = [_prediction(spec, outputs, labels, scores_output)]
    if scores_output is not None:
        row = outputs[scores_output][0]
        for index in np.argsort(row)[::-1][:top]:
            lines.append(f"{_name(labels, int(index))} {row[index]:.3f}")
    return lines


def _prediction(spec: SignatureSpec, outputs: dict[str, np.ndarray], labels: list[str] | None, scores: str | None) -> str:
    for alias, array in outputs.items():
        if spec.outputs[alias].dtype == tf.string and array.ndim == 1:
            value = array[0]
            return f"{alias}: {value.decode('utf-8', 'replace') if isinstance(value, bytes) else value}"
    for alias, array in outputs.items():
        if spec.outputs[alias].dtype.is_integer and array.ndim == 1:
            return f"{alias}: {_name(labels, int(array[0]))}"
    if scores is not None:
        return f"{scores}: {_name(labels, int(np.argmax(outputs[scores][0])))}"
    alias, array = next(iter(outputs.items()))
    return f"{alias}: {np.array2string(array.reshape(-1)[:4], precision=3)}"


def _name(labels: list[str] | None, index: int) -> str:
    return labels[index] if labels and 0 <= index < len(labels) else f"#{index}"
