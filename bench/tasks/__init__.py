"""Evaluation tasks: STS (no-regressor scoring) and, separately, the SentEval regressor and transfer tasks."""
