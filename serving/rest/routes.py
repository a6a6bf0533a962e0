"""URL routing of TensorFlow Serving's REST API (its own regular expressions), plus our extras."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from serving.errors import invalid_argument

POST_PATTERN = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)", re.IGNORECASE
)
GET_PATTERN = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.IGNORECASE
)
API_PREFIX = re.compile(r"/v1/", re.IGNORECASE)
VERBS = ("classify", "regress", "predict")
MAX_INT64 = 2**63 - 1


@dataclass(frozen=True)
class Route:
    """What a request asks for: ``kind`` is predict, classify, regress, status, metadata or list."""

    kind: str
    model_name: str = ""
    version: int | None = None
    label: str | None = None


def is_api_path(path: str) -> bool:
    return API_PREFIX.match(path) is not None


def route(method: str, path: str) -> Route:
    """Match an API path; INVALID_ARGUMENT ``Malformed request`` for anything TF Serving rejects."""
    malformed = invalid_argument(f"Malformed request: {method} {path}")
    if method == "POST":
        match = POST_PATTERN.fullmatch(path)
        if match is None or match.group(4) not in VERBS:
            raise malformed
        return _route_from(match.group(4), match.group(1), match.group(2), match.group(3))
    if method == "GET":
        match = GET_PATTERN.fullmatch(path)
        if match is None:
            raise malformed
        name, version, label, metadata = match.groups()
        if name is None:
            if version or label or metadata:
                raise malformed
            return Route(kind="list")
        return _route_from("metadata" if metadata else "status", name, version, label)
    raise malformed


def _route_from(kind: str, name: str, version: str | None, label: str | None) -> Route:
    return Route(
        kind=kind,
        model_name=unquote(name),
        version=_parse_version(version) if version is not None else None,
        label=unquote(label) if label is not None else None,
    )


def _parse_version(text: str) -> int:
    value = int(text)
    if value > MAX_INT64:
        raise invalid_argument(f"Failed to convert version: {text}")
    return value
