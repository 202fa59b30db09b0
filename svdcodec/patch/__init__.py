"""The patch layout (spec section 12): a basis learned from the image by SVD.

:mod:`.reconstruct` is the normative integer decoder, :mod:`.symbols` the symbol streams,
:mod:`.encode` the encoder of one plane, :mod:`.codec` joins them to whole files (decoding
through the C extension ``_patchc`` when it was built). :mod:`.arith` is the arithmetic-coded
payload of spec section 13 (the reference; ``_arithc`` codes the same bits in C) and
:mod:`.arith_rdo` prices coefficients with its contexts for the encoder.
"""
