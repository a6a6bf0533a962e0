"""A tiny digits classifier whose export carries the contract's ``metadata`` signature, for client tests."""

from __future__ import annotations

import json

import tensorflow as tf
from model_factory import TinyClassifier
from server_process import ServerHandle

CONTRACT_MODEL = "digits"
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CONTRACT = {
    "name": CONTRACT_MODEL,
    "version": 1,
    "family": "image_classifier",
    "outputs": {"serving_default": {"probabilities": {"dtype": "float32", "shape": [None, 10], "labels": DIGIT_NAMES}}},
    "labels": DIGIT_NAMES,
}


class ContractedClassifier(TinyClassifier):
    """The tiny classifier plus the export contract's ``metadata`` signature (no inputs → ``model_json``)."""

    def __init__(self) -> None:
        super().__init__()
        self.model_json = tf.constant(json.dumps(CONTRACT))

    @tf.function(input_signature=[])
    def metadata(self):
        return {"model_json": self.model_json}


def target_of(server: ServerHandle, transport: str) -> str:
    """The address a client of ``transport`` dials to reach ``server``."""
    return server.grpc_target if transport == "grpc" else server.rest_url
