"""Keep Python's cyclic garbage collector off the request path.

A loaded TensorFlow model is hundreds of thousands of long-lived Python objects. Requests allocate many
short-lived containers (the JSON body of 32 REST images alone is about a thousand lists), so full
collections, which walk every one of those model objects, come often and stall a request by 100 ms
or more. After models are loaded or unloaded the heap is collected once and its survivors frozen
(``gc.freeze``): later collections skip them, and an unloaded model's cycles are freed first.
"""

from __future__ import annotations

import gc
import threading

_settling = threading.Lock()


def settle_heap() -> None:
    """Free what unloads left behind, then move every surviving object out of the collector's reach.

    Load threads call this after each load or unload; one at a time, so no thread freezes the heap while
    another is collecting it.
    """
    with _settling:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
