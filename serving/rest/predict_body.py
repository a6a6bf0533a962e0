"""A REST Predict body, parsed only as far as the request needs.

Plain numeric inputs take the fast path of ``numeric_json``; every other body is parsed in full by
``json_tensor``, whose results and errors are TensorFlow Serving's. The order of TF Serving's checks stays:
a body that is not a JSON object fails here, before the model is looked up.
"""

from __future__ import annotations

import msgspec
import numpy as np

from serving.core.signature import Signature
from serving.rest import json_tensor, numeric_json


class PredictBody:
    def __init__(self, body: bytes) -> None:
        self._body = body
        self._fields = numeric_json.top_level_fields(body)
        self._document = None if self._fields is not None else json_tensor.parse_json_body(body)

    def document(self) -> dict:
        """The whole document as Python values, parsed on first use."""
        if self._document is None:
            self._document = json_tensor.parse_json_body(self._body)
        return self._document

    def signature_name(self) -> str:
        """The optional ``signature_name``; ``""`` when absent."""
        if self._fields is not None:
            raw = self._fields.get("signature_name")
            if raw is None:
                return ""
            name = msgspec.json.decode(raw)
            if isinstance(name, str):
                return name
        return json_tensor.requested_signature_name(self.document())

    def inputs(self, signature: Signature) -> tuple[dict[str, np.ndarray], bool]:
        """The signature's inputs and whether the body used the row (``instances``) format."""
        if self._fields is not None:
            decoded = numeric_json.predict_inputs(self._fields, signature)
            if decoded is not None:
                return decoded
        return json_tensor.predict_inputs_from_json(self.document(), signature)
