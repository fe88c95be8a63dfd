"""bslim: small multi-architecture container images for Python projects."""

__version__ = "0.1.0"
