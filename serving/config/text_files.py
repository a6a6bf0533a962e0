"""Reading the text-proto files that TensorFlow Serving's flags point at."""

from __future__ import annotations

from google.protobuf import text_format
from google.protobuf.message import Message

from serving.errors import invalid_argument


def read_text_proto(path: str, message: Message, what: str) -> Message:
    """Parse ``path`` into ``message``; INVALID_ARGUMENT naming the file and the problem otherwise.

    A syntax error reads as protobuf's C++ text parser reports it in tensorflow_model_server
    (``Error parsing text-format tensorflow.serving.ModelServerConfig: 1:1: ...``), which scripts grep for.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise invalid_argument(f"Cannot read {what} file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise invalid_argument(f"{_parse_error(message)}: {path} is not UTF-8 text ({error.reason})") from None
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as error:
        raise invalid_argument(f"{_parse_error(message)}: {_located(error)} (in {path})") from None
    return message


def _parse_error(message: Message) -> str:
    return f"Error parsing text-format {message.DESCRIPTOR.full_name}"


def _located(error: text_format.ParseError) -> str:
    """``line:column: problem`` as the C++ parser writes it (Python writes ``line:column : problem``)."""
    text = str(error)
    if error.GetLine() is None:
        return text
    problem = text.split(" : ", 1)[-1]
    return f"{error.GetLine()}:{error.GetColumn()}: {problem}"
