"""Exceptions of svdcodec (spec section 9).

Every malformed, hostile or unsupported file raises :class:`SvdiError` or a subclass; caller
mistakes (bad arguments) raise plain ``ValueError`` or ``TypeError``.
"""

from __future__ import annotations


class SvdiError(ValueError):
    """Base class: the bytes are not a decodable .svdi file."""


class CorruptError(SvdiError):
    """A field or structure violates the specification."""


class TruncatedError(SvdiError):
    """The file ends before it is complete."""


class ChecksumError(SvdiError):
    """A CRC-32 or zstd content checksum does not match."""


class UnsupportedError(SvdiError):
    """A valid-looking feature this decoder does not implement (version, code, critical chunk)."""


class LimitError(SvdiError):
    """Decoding would exceed a configured size, memory or work limit (spec section 8)."""
