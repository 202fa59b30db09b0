"""The whole-image layouts (spec sections 5-7): one truncated SVD per matrix, the lesson.

:mod:`.linalg` factorizes, :mod:`.rank` chooses the rank, :mod:`.quantize` packs the factors,
:mod:`.layout` maps channels to matrices and rows back to samples (with the C helper
``_storec``); :mod:`.encode` encodes and :mod:`.codec` decodes whole files of these layouts.
"""
