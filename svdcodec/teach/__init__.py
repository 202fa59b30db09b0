"""Teaching tools: the byte-accounting report, plots, the basis figure, codec peers, the demo.

An edge of the package: it may import anything, nothing but the command line imports it.
Plots need the ``plot`` extra (matplotlib).
"""
