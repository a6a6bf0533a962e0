"""The vision family: image models trained on MNIST-style datasets (classifiers now; VAE and GANs later)."""
