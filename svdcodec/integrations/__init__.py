"""svdi as a chunk codec of array stores: zarr v3 (:mod:`.zarr`) and numcodecs (:mod:`.numcodecs`,
for zarr v2 and the tools that speak numcodecs).

Each stored chunk is a complete .svdi file. The codecs are thin: they check the chunk's shape and
dtype and call the public codec (:func:`svdcodec.encode`, :func:`svdcodec.decode`) through
:mod:`.chunks`. Both are registered by entry point (``zarr.codecs``, ``numcodecs.codecs``), so a
store written with them opens in a fresh process without importing svdcodec by hand. zarr and
numcodecs are the optional extra ``svdcodec[zarr]``; nothing else in the package imports this
folder.
"""
