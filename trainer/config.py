"""Job configs as dataclasses of flags: one field per flag, with the literature's default and a help line.

The CLI turns each field into `--field-name`, so a job's options are written once, in its config class.
Flags left out on the command line take the preset's value (e.g. `--quick`) and then the field default; a
field declared with `flag(REQUIRED, ...)` has no default and becomes a required flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError

REQUIRED: Any = dataclasses.MISSING


def flag(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """A config field that is also a command-line flag with one line of help (default REQUIRED: no default)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def require(condition: bool, message: str) -> None:
    """Raise TrainerError(message) unless condition holds: the validation step of config classes."""
    if not condition:
        raise TrainerError(message)


def _flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _value_type(hint: Any) -> tuple[type, bool]:
    """The scalar type behind a field hint, and whether the field may be None."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return args[0], True
    return hint, False


def add_config_arguments(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """Add one flag per field of config_cls; unset flags stay out of the parsed namespace."""
    hints = typing.get_type_hints(config_cls)
    for field in dataclasses.fields(config_cls):
        value_type, _ = _value_type(hints[field.name])
        help_text = field.metadata["help"]
        required = field.default is REQUIRED
        if not required and field.default is not None:
            help_text += f" (default: {field.default})"
        kwargs: dict[str, Any] = {
            "default": argparse.SUPPRESS, "help": help_text, "dest": field.name, "required": required
        }
        if value_type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif field.metadata["choices"]:
            kwargs.update(type=value_type, choices=field.metadata["choices"])
        else:
            kwargs.update(type=value_type, metavar=field.name.upper())
        parser.add_argument(_flag_name(field.name), **kwargs)


def config_from_args(config_cls: type, args: argparse.Namespace, preset: Mapping[str, Any] | None = None) -> Any:
    """Build config_cls from the flags given, falling back on the preset, then on the field defaults."""
    names = {field.name for field in dataclasses.fields(config_cls)}
    given = {name: value for name, value in vars(args).items() if name in names}
    return config_cls(**{**(preset or {}), **given})


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as a JSON-ready dict (paths become strings)."""
    return {
        key: str(value) if isinstance(value, Path) else value for key, value in dataclasses.asdict(config).items()
    }


def format_config(config: Any) -> str:
    """One `name = value` line per field, for printing at the start of a job."""
    width = max(len(field.name) for field in dataclasses.fields(config))
    lines = [f"  {name:<{width}} = {value}" for name, value in config_to_dict(config).items()]
    return f"{type(config).__name__}:\n" + "\n".join(lines)


def save_config(config: Any, command: list[str], path: Path) -> None:
    """Write the command line and the config as JSON, so the run can be understood and repeated."""
    document = {"command": command, "config": config_to_dict(config)}
    path.write_text(json.dumps(document, indent=2) + "\n")
