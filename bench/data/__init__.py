"""Evaluation data: locating, verifying, downloading and reading SentEval's layout."""
