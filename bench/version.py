"""The package version, apart from ``bench/__init__`` so that modules can name it without
importing the package's lazy API (``bench.evaluate`` imports the runner)."""

__version__ = "0.1.0"  # pyproject reads it ([tool.hatch.version]); the distribution is sentbench
