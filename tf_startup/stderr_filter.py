"""Filtering file descriptor 2, where C++ libraries write directly, line by line through tf_startup.noise.

Two forms: `filtered_while` captures fd 2 for the duration of a block (a library importing TensorFlow) and
writes back what is not noise; `StderrFilter` keeps a pipe on fd 2 for the life of a command-line process and
forwards what is not noise as it arrives, so a server's later lines are filtered too. At exit it forwards what
is left before the process ends; `KSLAB_VERBOSE=1` skips both.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

from tf_startup.noise import MAYBE_NOISE_START, has_nvidia_device, is_noise

EXIT_DRAIN_TIMEOUT_S = 2.0
READ_SIZE = 65536


def kept_text(lines: list[str], gpu_machine: bool) -> str:
    """The lines, line endings kept, without the noise."""
    return "".join(line for line in lines if not is_noise(line, gpu_machine))


@contextlib.contextmanager
def filtered_while() -> Iterator[None]:
    """Capture fd 2 during the block and write back what is not noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            sys.stderr.write(kept_text(lines, has_nvidia_device()))
            sys.stderr.flush()


class StderrFilter:
    """A pipe on fd 2 for the rest of the process, read by one thread that forwards what is not noise.

    `start()` installs it and registers `stop()` to run at exit; `stop()` restores fd 2 and waits (bounded)
    for the thread to forward what is left.
    """

    def __init__(self) -> None:
        self.gpu_machine = has_nvidia_device()
        self.target = -1
        self.reader = -1
        self.thread = threading.Thread(target=self._forward, name="stderr-filter", daemon=True)

    def start(self) -> None:
        sys.stderr.flush()
        self.target = os.dup(2)
        self.reader, writer = os.pipe()
        os.dup2(writer, 2)
        os.close(writer)
        self.thread.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        sys.stderr.flush()
        sys.stdout.flush()
        os.dup2(self.target, 2)  # the pipe's last writer in this process closes, so the thread sees its end
        self.thread.join(EXIT_DRAIN_TIMEOUT_S)

    def _forward(self) -> None:
        pending = ""
        while chunk := os.read(self.reader, READ_SIZE):
            lines = (pending + chunk.decode("utf-8", "replace")).splitlines(keepends=True)
            pending = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
            if pending and not MAYBE_NOISE_START.match(pending):
                lines.append(pending)
                pending = ""
            self._write(kept_text(lines, self.gpu_machine))
        self._write(kept_text([pending], self.gpu_machine))
        os.close(self.reader)

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        while data:
            data = data[os.write(self.target, data):]
