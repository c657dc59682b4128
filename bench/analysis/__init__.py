"""The SimCSE paper's analysis tools: alignment/uniformity, singular spectrum, cosine distributions.

``metrics`` holds the arithmetic, ``sets`` the STS-B sentence and pair sets, ``targets`` the
models and checkpoints to analyse, ``plots`` the figures; ``bench analyze`` ties them together.
"""
