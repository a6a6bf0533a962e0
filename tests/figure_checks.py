"""Helpers for tests of the pictures a run writes: which images its TensorBoard logs hold."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf


def tensorboard_image_tags(run_dir: Path) -> set[str]:
    """The tags of every image summary under run_dir/tensorboard/figures (TensorBoard's Images tab)."""
    tags = set()
    for events in (run_dir / "tensorboard" / "figures").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            tags.update(value.tag for value in event.summary.value if value.metadata.plugin_data.plugin_name == "images")
    return tags
