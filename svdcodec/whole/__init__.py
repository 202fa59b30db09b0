"""The whole-image layouts (spec sections 5-7): one truncated SVD per matrix, the lesson.

:mod:`.linalg` factorizes, :mod:`.quantize` packs the factors, :mod:`.layout` maps channels to
matrices and rows back to samples (with the C helper ``_storec``), :mod:`.codec` encodes and
decodes whole files of these layouts.
"""
