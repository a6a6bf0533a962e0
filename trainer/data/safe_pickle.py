"""Unpickling of dataset files that holds only containers, bytes and NumPy arrays, so a hostile file cannot run code.

CIFAR-10's python batches and the MNIST pickle of the deeplearning.net tutorials are pickles written by
Python 2; this reads them without trusting them.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

_NUMPY_GLOBALS = frozenset({"_reconstruct", "_frombuffer", "ndarray", "dtype", "scalar"})


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, tuples, lists, bytes and NumPy arrays, and refuses every other global.

    `_codecs.encode` is how Python 3 writes bytes at pickle protocol 2, the protocol of the original files.
    """

    def find_class(self, module: str, name: str) -> Any:
        numpy_array = module.split(".")[0] == "numpy" and name in _NUMPY_GLOBALS
        if numpy_array or (module, name) == ("_codecs", "encode"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_numpy_pickle(stream: IO[bytes], encoding: str) -> Any:
    """The object pickled in stream; `encoding` decodes Python 2 strings ("bytes" keeps them as bytes)."""
    return NumpyOnlyUnpickler(stream, encoding=encoding).load()
