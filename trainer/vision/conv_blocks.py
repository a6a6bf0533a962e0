"""The deep net's convolution blocks as the `--deep-blocks` flag writes them: `32x1,64x2,128x2`.

Each item is FILTERSxCONVOLUTIONS: that many 3x3 convolutions of FILTERS channels, then 2x2 max pooling.
Kept free of TensorFlow so the CLI can validate the flag before loading it.
"""

from __future__ import annotations

from trainer.errors import TrainerError

ConvBlocks = tuple[tuple[int, int], ...]

DEEP_BLOCKS: ConvBlocks = ((32, 1), (64, 2), (128, 2))


def format_conv_blocks(blocks: ConvBlocks) -> str:
    """blocks in the flag's notation, e.g. '32x1,64x2,128x2'."""
    return ",".join(f"{filters}x{convolutions}" for filters, convolutions in blocks)


def _parse_block(item: str) -> tuple[int, int]:
    filters, separator, convolutions = item.strip().partition("x")
    if not (separator and filters.isdigit() and convolutions.isdigit()) or min(int(filters), int(convolutions)) < 1:
        raise TrainerError(f"--deep-blocks: '{item}' is not FILTERSxCONVOLUTIONS with both at least 1, e.g. 64x2")
    return int(filters), int(convolutions)


def parse_conv_blocks(text: str) -> ConvBlocks:
    """The blocks of a '32x1,64x2,128x2' string; TrainerError naming the bad item otherwise."""
    if not text.strip():
        raise TrainerError("--deep-blocks needs at least one block, e.g. 32x1,64x2,128x2")
    return tuple(_parse_block(item) for item in text.split(","))


def check_fits(blocks: ConvBlocks, image_shape: tuple[int, int, int]) -> None:
    """TrainerError unless the image is still at least 1x1 after every block has halved it."""
    smallest = min(image_shape[:2])
    if smallest >> len(blocks) < 1:
        raise TrainerError(
            f"--deep-blocks has {len(blocks)} blocks, each halving the image, but {smallest}-pixel images allow at most "
            f"{smallest.bit_length() - 1}: give fewer blocks or larger images"
        )
