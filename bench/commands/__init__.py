"""Sub-commands of ``bench``: one module each, discovered by ``bench.cli``."""
