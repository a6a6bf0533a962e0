"""The trainer's command line: `python -m trainer FAMILY JOB [flags]`.

Each job (a model to train, or a data job such as `vision samples`) is a `Job`: a config dataclass whose
fields are the flags, optional presets such as `--quick`, and an entry point `run(config, command)`. The
entry point is imported only when the job runs, so `--help` answers without loading TensorFlow. A new job
is one more entry in `FAMILIES`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NoReturn

import tf_startup
from trainer.config import add_config_arguments, config_from_args
from trainer.errors import TrainerError
from trainer.export.layout import existing_versions, model_dir
from trainer.rl.carracing_config import (
    RECORD_QUICK_PRESET,
    TRAIN_QUICK_PRESET,
    RecordConfig,
    TrainConfig,
)
from trainer.rl.dqn_config import ATARI_PRESET, CARTPOLE_PRESET, DQNConfig
from trainer.rl.dqn_config import QUICK_PRESET as DQN_QUICK_PRESET
from trainer.sequence.charlstm_config import QUICK_PRESET as CHARLSTM_QUICK_PRESET
from trainer.sequence.charlstm_config import CharLSTMConfig
from trainer.vision.classifier_config import QUICK_PRESET, ClassifierConfig
from trainer.vision.gan_config import QUICK_PRESET as GAN_QUICK_PRESET
from trainer.vision.gan_config import GANConfig
from trainer.vision.samples_config import SamplesConfig
from trainer.vision.vae_config import QUICK_PRESET as VAE_QUICK_PRESET
from trainer.vision.vae_config import VAEConfig

PROG = "python -m trainer"
QUICK_PRESET_NAME = "quick"
QUICK_EXPORT_ROOT = Path("runs") / "quick_models"


@dataclass(frozen=True)
class Preset:
    """A named set of flag values, switched on by `--<name>`; flags given explicitly still win."""

    help: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Job:
    """One job: its config class, its presets, where its entry point lives and what to do after Ctrl-C."""

    help: str
    config_cls: type
    entry_point: str
    presets: Mapping[str, Preset] = field(default_factory=dict)
    after_interrupt: str = "run the same command again"

    def load(self) -> Callable[..., Any]:
        """Import and return the function named by entry_point ('module:function')."""
        module_name, function_name = self.entry_point.split(":")
        return getattr(importlib.import_module(module_name), function_name)


FAMILIES: Mapping[str, tuple[str, Mapping[str, Job]]] = {
    "vision": (
        "image models trained on MNIST-style datasets, and sample images",
        {
            "classifier": Job(
                help="image classifier: MLP, CNN or VGG-style net on Fashion-MNIST, MNIST, CIFAR-10 or class folders",
                config_cls=ClassifierConfig,
                entry_point="trainer.vision.classifier:train_classifier",
                presets={"quick": Preset("a tiny fast run that still learns", QUICK_PRESET)},
                after_interrupt="run the same command with the same --run-dir to resume",
            ),
            "vae": Job(
                help="convolutional VAE with a Bernoulli ELBO on binarised images; latent, manifold and reconstruction PNGs",
                config_cls=VAEConfig,
                entry_point="trainer.vision.vae:train_vae",
                presets={"quick": Preset("a tiny fast run that still learns", VAE_QUICK_PRESET)},
                after_interrupt="run the same command with the same --run-dir to resume",
            ),
            "gan": Job(
                help="GANs: fully-connected (fc), DCGAN and conditional DCGAN (cgan); sample grid PNG per epoch",
                config_cls=GANConfig,
                entry_point="trainer.vision.gan:train_gan",
                presets={"quick": Preset("a tiny fast run that still learns", GAN_QUICK_PRESET)},
                after_interrupt="run the same command with the same --run-dir to resume",
            ),
            "samples": Job(
                help="write images of a dataset split as PNG files with labels.csv (inputs for clients)",
                config_cls=SamplesConfig,
                entry_point="trainer.vision.samples:write_samples",
                after_interrupt="nothing was written; run the same command again",
            ),
        },
    ),
    "rl": (
        "reinforcement learning: DQN policies for Atari and CartPole, a behavioural-cloning CarRacing driver",
        {
            "dqn": Job(
                help="DQN / Double DQN on gymnasium (ALE/*-v5 Atari games, CartPole-v1)",
                config_cls=DQNConfig,
                entry_point="trainer.rl.dqn:train_dqn",
                presets={
                    "quick": Preset("a short run of a few minutes", DQN_QUICK_PRESET),
                    "cartpole": Preset("RL Zoo's tuned CartPole-v1 values", CARTPOLE_PRESET),
                    "atari": Preset("an Atari game in 700k steps (about 2 h on 2 CPU cores): n-step 3, "
                                    "ε over 250k steps, Adam as Rainbow", ATARI_PRESET),
                },
                after_interrupt="run the same command with the same --run-dir to resume from the last checkpoint",
            ),
            "carracing-record": Job(
                help="record CarRacing-v3 demonstrations (scripted expert or keyboard) as compressed shards; resumable",
                config_cls=RecordConfig,
                entry_point="trainer.rl.carracing_record:record_demonstrations",
                presets={"quick": Preset("two short expert episodes", RECORD_QUICK_PRESET)},
                after_interrupt="run the same command again: recorded episodes are kept and skipped",
            ),
            "carracing-train": Job(
                help="behavioural-cloning CarRacing driver (textbook CNN) from shards, optional DAgger",
                config_cls=TrainConfig,
                entry_point="trainer.rl.carracing_train:train_driver",
                presets={"quick": Preset("a tiny fast run", TRAIN_QUICK_PRESET)},
                after_interrupt="run the same command with the same --run-dir to resume",
            ),
        },
    ),
    "sequence": (
        "character-level language models that generate text",
        {
            "charlstm": Job(
                help="character-level LSTM text generator (2x512 LSTM; default corpus: Debian fortunes)",
                config_cls=CharLSTMConfig,
                entry_point="trainer.sequence.charlstm:train_charlstm",
                presets={"quick": Preset("a tiny fast run that still learns", CHARLSTM_QUICK_PRESET)},
                after_interrupt="run the same command with the same --run-dir to resume",
            ),
        },
    ),
}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become TrainerError, so the CLI prints one line for them."""

    def error(self, message: str) -> NoReturn:
        raise TrainerError(f"{self.prog}: {message} (see --help)")



def _preset_help(preset: Preset) -> str:
    values = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in preset.values.items())
    return f"{preset.help}: sets {values} unless given explicitly"


def build_parser() -> argparse.ArgumentParser:
    """The parser for every family and job, with one flag per config field."""
    description = "Train a model and export it as a TensorFlow SavedModel, or prepare its data."
    parser = _Parser(prog=PROG, description=description)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's start-up lines and third-party warnings (also: KSLAB_VERBOSE=1)")
    families = parser.add_subparsers(dest="family", metavar="FAMILY", required=True)
    for family_name, (family_help, jobs) in FAMILIES.items():
        family_parser = families.add_parser(family_name, help=family_help, description=family_help)
        models = family_parser.add_subparsers(dest="model", metavar="JOB", required=True)
        for model_name, job in jobs.items():
            model_parser = models.add_parser(model_name, help=job.help, description=job.help)
            add_config_arguments(model_parser, job.config_cls)
            for preset_name, preset in job.presets.items():
                model_parser.add_argument(f"--{preset_name}", action="store_true", help=_preset_help(preset))
    return parser


def _chosen_preset(job: Job, args: argparse.Namespace) -> str | None:
    chosen = [name for name in job.presets if getattr(args, name, False)]
    if len(chosen) > 1:
        raise TrainerError(f"choose at most one of {', '.join('--' + name for name in chosen)}")
    return chosen[0] if chosen else None


def distributed_jobs() -> list[str]:
    """The jobs that can train across processes: those whose config has a `distribute` flag."""
    return [f"{family} {name}" for family, (_, jobs) in FAMILIES.items() for name, job in jobs.items()
            if any(item.name == "distribute" for item in fields(job.config_cls))]


def check_distribution(label: str, job: Job, arguments: Sequence[str]) -> None:
    """Refuse --distribute, or a TF_CONFIG cluster, for a job that runs in one process.

    Otherwise each process started with its TF_CONFIG would train and export alone, unaware of the others.
    """
    supported = distributed_jobs()
    if label in supported:
        return
    where = f"is supported by {' and '.join(supported)} only"
    if any(argument.split("=")[0] == "--distribute" for argument in arguments):
        raise TrainerError(f"{label} trains in one process: --distribute (multi-worker training) {where}")
    if "TF_CONFIG" in os.environ:
        raise TrainerError(f"{label} trains in one process, but TF_CONFIG is set: unset it (multi-worker training {where})")


def _version_list(versions: Iterable[int]) -> str:
    return ", ".join(str(version) for version in sorted(versions))


def guard_export_name(config: Any, given: Container[str], quick: bool) -> Any:
    """The config with an export target that cannot silently replace the version a server serves.

    `given` holds the flags given explicitly. Without `--model-name` and `--export-root`, a `--quick` run exports
    into runs/quick_models/ (gitignored), away from saved_models/ and its servers; without `--model-name`, any
    other run may not add a version to a model that already has one (the server would serve it from then
    on): the user names the model to replace what is served. Jobs that export nothing are unchanged.
    """
    if not hasattr(config, "model_name") or "model_name" in given:
        return config
    if quick:
        return config if "export_root" in given else dataclasses.replace(config, export_root=QUICK_EXPORT_ROOT)
    name = config.model_name
    versions = existing_versions(model_dir(config.export_root, name))
    if versions:
        raise TrainerError(
            f"{model_dir(config.export_root, name)} already holds version(s) {_version_list(versions)}, and a "
            f"server serves its latest: --model-name {name} adds version {max(versions) + 1} and serves it from "
            f"then on; another --model-name (e.g. {name}_2) starts a new model; --quick exports into "
            f"{QUICK_EXPORT_ROOT}/"
        )
    return config


def main(argv: Sequence[str] | None = None, quiet: bool = False) -> int:
    """Run the job the arguments name; return the process exit status (2 for errors the user can fix).

    `quiet` (the command line's entry points) starts TensorFlow without its noise once the job is known.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    after_interrupt = Job.after_interrupt
    try:
        parser = build_parser()
        args, _ = parser.parse_known_args(arguments)
        job = FAMILIES[args.family][1][args.model]
        check_distribution(f"{args.family} {args.model}", job, arguments)
        args = parser.parse_args(arguments)
        after_interrupt = job.after_interrupt
        preset = _chosen_preset(job, args)
        config = config_from_args(job.config_cls, args, job.presets[preset].values if preset else {})
        config = guard_export_name(config, vars(args).keys(), preset == QUICK_PRESET_NAME)
        if quiet:
            tf_startup.quiet_start(args.verbose)
        job.load()(config, command=[*PROG.split(), *arguments])
    except TrainerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {after_interrupt}", file=sys.stderr)
        return 130
    return 0
