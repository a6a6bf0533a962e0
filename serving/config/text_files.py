"""Reading the text-proto files that TensorFlow Serving's flags point at."""

from __future__ import annotations

from google.protobuf import text_format
from google.protobuf.message import Message

from serving.errors import invalid_argument


def read_text_proto(path: str, message: Message, what: str) -> Message:
    """Parse ``path`` into ``message``; INVALID_ARGUMENT naming the file and the problem otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            text_format.Parse(handle.read(), message)
    except OSError as error:
        raise invalid_argument(f"Cannot read {what} file {path}: {error.strerror}") from None
    except (text_format.ParseError, UnicodeDecodeError) as error:
        raise invalid_argument(f"Invalid {what} in {path}: {error}") from None
    return message
