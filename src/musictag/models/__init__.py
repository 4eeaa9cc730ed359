"""Models: the architectures of the zoo (built by name in :mod:`~musictag.models.zoo`), the
model-folder format every trained or pretrained model is saved in, and fast inference kernels."""
