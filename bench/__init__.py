"""bench: protocol-explicit evaluation of sentence embeddings."""

__version__ = "0.1.0"
