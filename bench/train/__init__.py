"""SimCSE trained in-repo (Gao et al., 2021): data, model, loss, trainer, run folders as models."""
