"""svdcodec: the .svdi lossy image format built on the truncated SVD.

>>> import numpy as np, svdcodec
>>> img = np.zeros((4, 6), dtype=np.uint8)
>>> svdcodec.decode(svdcodec.encode(img, rank=1)).shape
(4, 6)
"""

from __future__ import annotations

from .codec import (
    decode,
    decode_stack,
    encode,
    encode_stack,
    read,
    read_dicom_series,
    read_header,
    verify,
    write,
)
from .errors import (
    ChecksumError,
    CorruptError,
    LimitError,
    SvdiError,
    TruncatedError,
    UnsupportedError,
)
from .format import FORMAT_VERSION
from .info import GroupInfo, PlaneInfo, SvdiInfo
from .limits import Limits, get_default_limits, set_default_limits
from .pillow.plugin import register

__version__ = "0.1.0"

__all__ = [
    "FORMAT_VERSION",
    "ChecksumError",
    "CorruptError",
    "GroupInfo",
    "LimitError",
    "Limits",
    "PlaneInfo",
    "SvdiError",
    "SvdiInfo",
    "TruncatedError",
    "UnsupportedError",
    "__version__",
    "decode",
    "decode_stack",
    "encode",
    "encode_stack",
    "get_default_limits",
    "read",
    "read_dicom_series",
    "read_header",
    "register",
    "set_default_limits",
    "verify",
    "write",
]

register()
