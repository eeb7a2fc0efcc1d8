"""Benchmark suites: every module here with a ``stages(size, workdir)`` function is a suite.

Suites run in the order of ``ORDER`` first (later suites may reuse earlier suites' output
in the shared work folder, e.g. ``ingest`` reads the bank ``generate`` wrote), then any
other module in alphabetical order.
"""

ORDER = ("generate", "ingest")
