"""The patch layout (spec section 12): a basis learned from the image by SVD.

:mod:`.reconstruct` is the normative integer decoder, :mod:`.symbols` the symbol streams,
:mod:`.encode` the encoder of one plane, :mod:`.codec` joins them to whole files, their planes
coded by :mod:`.entropy` and their quality chosen for a target by :mod:`.ratecontrol`.
:mod:`.decode` decodes them through the C extensions ``_patchc`` and ``_arithc`` when they
were built, else through :mod:`.reference`, within the limits of :mod:`.limits` (section 12.8).
:mod:`.arith` is the arithmetic-coded payload of spec section 13 (the reference; ``_arithc``
codes the same bits in C) and :mod:`.arith_rdo` prices coefficients with its contexts for the
encoder.
"""
