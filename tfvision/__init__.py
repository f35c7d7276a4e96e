"""tfvision: small, fast vision models in Keras 3 / TensorFlow."""

__version__ = "0.1.0"
