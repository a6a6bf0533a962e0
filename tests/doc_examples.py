"""Reading the example blocks of the README and docs/, and running them as a newcomer would.

A fenced block's info string says what the tests do with it:

- `bash test` / `python test`: run it (bash, or `python -c`) from a scratch copy of the checkout;
- `bash test server`: run every command but the last, then start the last one (a server) and wait until its
  REST port answers `/readyz`;
- `json output`: what the block before it prints, compared as JSON;
- `bash skip: REASON`: not run, for the reason given (long trainings, hardware, files it would rewrite).

Every `bash`, `sh` and `python` block must say one of these, so a new example is run unless someone writes
down why not. Ports 8500 and 8501 in a block become the ports of the server the tests started.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\S*)\s*(.*)$")
RUN_LANGUAGES = ("bash", "sh", "python")
GRPC_PORT, REST_PORT = 8500, 8501
# What must not reach a newcomer's screen: errors, warnings, tracebacks, TensorFlow's glog lines.
NOISE = re.compile(r"(?i:^(error|warning)\b)|Traceback|\w+Warning:|WARNING|^[EWF]\d{4} \d|absl::InitializeLog")


@dataclass(frozen=True)
class Block:
    """One fenced block of a markdown file: where it starts, its language, its marker and its text."""

    path: Path
    line: int
    language: str
    marker: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    def is_run(self) -> bool:
        return self.language in RUN_LANGUAGES and self.marker in ("test", "test server")


def fenced_blocks(path: Path) -> list[Block]:
    """Every top-level fenced block of the markdown file at path, in order."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = next(row for row in range(index + 1, len(lines)) if lines[row].startswith("```"))
        blocks.append(Block(path, index + 1, opening.group(1), opening.group(2).strip(),
                            "\n".join(lines[index + 1:end]) + "\n"))
        index = end + 1
    return blocks


def marker_problem(block: Block) -> str | None:
    """Why a runnable-language block is not marked properly, or None."""
    if block.language not in RUN_LANGUAGES:
        return None
    if block.marker in ("test", "test server"):
        return None
    if block.marker.startswith("skip:") and block.marker[len("skip:"):].strip():
        return None
    return f"{block.where}: a {block.language} block needs 'test', 'test server' or 'skip: REASON'"


def with_ports(text: str, grpc_port: int, rest_port: int) -> str:
    """The text with the documented ports 8500 and 8501 replaced by the given ones."""
    text = re.sub(rf"\b{GRPC_PORT}\b", str(grpc_port), text)
    return re.sub(rf"\b{REST_PORT}\b", str(rest_port), text)


def split_commands(script: str) -> list[str]:
    """The shell commands of a block, continuation lines joined and comment-only lines dropped."""
    commands, current = [], ""
    for line in script.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        commands.append(current)
        current = ""
    return commands


def noise_lines(output: str) -> list[str]:
    """The lines of output a newcomer should not see."""
    return [line for line in output.splitlines() if NOISE.search(line.strip())]
