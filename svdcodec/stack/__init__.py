"""Image stacks (spec section 14): N frames of one size and mode in one file.

:mod:`.encode` builds a stack in one of three codings (``frames``, ``tall``, ``snapshot``) or
picks the smallest (``auto``); :mod:`.decode` decodes one frame or all of them. They join the
layouts as :mod:`svdcodec.codec` does for one image, which takes its single-image encoder and
decoder as arguments so that imports keep flowing one way.
"""
