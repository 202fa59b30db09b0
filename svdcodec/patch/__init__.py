"""The patch layout (spec section 12): a basis learned from the image by SVD.

:mod:`.reconstruct` is the normative integer decoder, :mod:`.symbols` the symbol streams,
:mod:`.encode` the encoder of one plane, :mod:`.codec` joins them to whole files (decoding
through the C extension ``_patchc`` when it was built).
"""
