"""`--deep-blocks`: parsed, written back, checked against the image size; the deep net builds what it names."""

from __future__ import annotations

import re

import keras
import pytest

from trainer.errors import TrainerError
from trainer.vision.conv_blocks import DEEP_BLOCKS, check_fits, format_conv_blocks, parse_conv_blocks
from trainer.vision.networks import DeepOptions, build_classifier


def test_the_flag_notation_round_trips():
    assert parse_conv_blocks("32x2, 64x2,128x3") == ((32, 2), (64, 2), (128, 3))
    assert parse_conv_blocks(format_conv_blocks(DEEP_BLOCKS)) == DEEP_BLOCKS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "needs at least one block"),
        ("32x2,,64x2", "'' is not FILTERSxCONVOLUTIONS"),
        ("32x0", "'32x0' is not FILTERSxCONVOLUTIONS with both at least 1"),
        ("32*2", "'32*2' is not FILTERSxCONVOLUTIONS"),
        ("x2", "'x2' is not"),
    ],
)
def test_bad_blocks_name_the_bad_item(text, expected):
    with pytest.raises(TrainerError, match=re.escape(expected)):
        parse_conv_blocks(text)


def test_too_many_halvings_for_the_image_are_refused():
    check_fits(((8, 1),) * 4, (16, 16, 1))
    with pytest.raises(TrainerError, match="5 blocks, each halving the image, but 16-pixel images allow at most 4"):
        check_fits(((8, 1),) * 5, (16, 16, 1))


def test_the_deep_net_has_the_convolutions_and_widths_the_blocks_name():
    models = build_classifier("deep", (16, 16, 1), num_classes=3, dropout=0.25, deep=DeepOptions(blocks=((8, 2), (12, 3))))
    convolutions = [layer for layer in models.network.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convolutions] == [8, 8, 12, 12, 12]
    pooled = [layer for layer in models.network.layers if isinstance(layer, keras.layers.MaxPooling2D)][-1]
    assert tuple(pooled.output.shape[1:]) == (4, 4, 12)
