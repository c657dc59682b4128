"""The SimCSE paper's analysis tools: alignment/uniformity, singular spectrum, cosine distributions.

``kinds`` holds one module per analysis (discovered by ``bench analyze``); they share
``metrics`` (the arithmetic), ``sets`` (the STS-B sentence and pair sets), ``targets`` (the
models and checkpoints to analyse), ``compute`` (one encoding pass per model), ``plots`` (the
PNG writer) and ``report`` (the typed analysis report); ``api`` is the one flow of an analysis
(``bench.analyze`` from Python, ``bench analyze`` on the command line).
"""
