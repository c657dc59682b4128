"""``bench compare``: reports side by side under one protocol, with uncertainty.

- ``rows``: reports (run or literature) to comparable rows.
- ``guard``: the protocol guard (one common protocol, re-aggregation, or a refusal).
- ``stats``: bootstrap and dependent-correlation tests (pure numpy/scipy).
- ``uncertainty``: those statistics applied to the per-pair data of run reports.
- ``tables`` / ``render``: the paper layout and its output formats.
- ``sensitivity``: one model under every protocol; rank flips between models.
- ``index``: the ``reports/README.md`` table.
"""
