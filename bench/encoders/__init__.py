"""Sentence encoders behind one small interface, and the registry that names them."""

from bench.encoders.base import Encoder

__all__ = ["Encoder"]
