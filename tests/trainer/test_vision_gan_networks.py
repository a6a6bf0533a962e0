"""The GAN networks: the conditional discriminator's logit carries the projection term of its label."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from trainer.vision.gan_networks import build_networks

IMAGE_SHAPE = (8, 8, 1)
NUM_CLASSES = 3


def test_conditional_logit_is_dense_plus_label_projection():
    _, discriminator = build_networks("cgan", IMAGE_SHAPE, latent_dim=4, width=4, num_classes=NUM_CLASSES)
    images = np.random.default_rng(0).uniform(-1, 1, size=(6, *IMAGE_SHAPE)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2], dtype="int64")
    features = keras.Model(discriminator.inputs, discriminator.get_layer("logit").input)([images, labels]).numpy()
    kernel, bias = discriminator.get_layer("logit").get_weights()
    (embedding,) = discriminator.get_layer("class_embedding").get_weights()
    expected = features @ kernel + bias + np.sum(embedding[labels] * features, axis=1, keepdims=True)
    np.testing.assert_allclose(discriminator([images, labels]).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["fc", "dcgan"])
def test_unconditional_discriminators_have_no_class_embedding(arch):
    _, discriminator = build_networks(arch, IMAGE_SHAPE, latent_dim=4, width=4, num_classes=None)
    assert "class_embedding" not in [layer.name for layer in discriminator.layers]
    assert discriminator.output.shape == (None, 1)
