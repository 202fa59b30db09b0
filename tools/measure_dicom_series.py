"""Bytes of a DICOM series as N separate .svdi files vs one stack with ``dser`` (spec 17.3).

    python tools/measure_dicom_series.py [--slices 32] [--size 128] [--quality 50]

Two series, made here with pydicom (needs the dicom extra; nothing is downloaded):
``CT_small`` (pydicom's bundled 128 x 128 CT slice: its header for every slice with the slice's
own UIDs, Instance Number and position; its pixels shifted by (0.4 k, 0.2 k) pixels, scaled by
1 + 0.004 k, plus noise of sigma 3), and the smooth phantom of
:func:`svdcodec.integrations.dicom_series.synthetic_slice`. For each: the N files encoded one
by one (each with its ``dicm`` header), then as one stack of each coding; bytes, the ``dser``
chunk against the raw headers, and the mean PSNR over the slices (peak 2^bits - 1, the bits
the volume's values span).
"""

from __future__ import annotations

import argparse
import io
import sys

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from scipy.ndimage import shift

import svdcodec
from svdcodec.integrations import dicom
from svdcodec.integrations import dicom_series as series
from svdcodec.metrics import psnr


def ct_small_series(n: int) -> list[bytes]:
    """N slices from pydicom's CT_small.dcm, 2.5 mm apart."""
    path = get_testdata_file("CT_small.dcm", download=False)
    if path is None:
        raise SystemExit("CT_small.dcm is not shipped with this pydicom")
    source = pydicom.dcmread(path)
    base = source.pixel_array.astype(float)
    x, y, z0 = (float(v) for v in source.ImagePositionPatient)
    # UIDs from fixed entropy, like the noise's seed: the bytes the README quotes repeat
    uid = generate_uid(entropy_srcs=["svdcodec measure_dicom_series", "series"])
    rng = np.random.default_rng(0)
    files = []
    for k in range(n):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
            entropy_srcs=["svdcodec measure_dicom_series", str(k)])
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [x, y, z0 + 2.5 * k]
        ds.SliceLocation = z0 + 2.5 * k
        pixels = shift(base, (0.4 * k, 0.2 * k), order=1, mode="nearest") * (1 + 0.004 * k)
        pixels += rng.normal(0, 3, pixels.shape)
        ds.PixelData = np.round(pixels).astype("<i2").tobytes()
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    return files


def mean_psnr(a: np.ndarray, b: np.ndarray, bits: int) -> float:
    return float(np.mean([psnr(x, y, max_value=2**bits - 1) for x, y in zip(a, b, strict=True)]))


def measure(name: str, files: list[bytes], quality: int) -> None:
    image = series.read_series(files)
    singles = [dicom.encode_dicom(f, quality=quality) for f in files]
    single_bytes = sum(map(len, singles))
    decoded = np.stack([svdcodec.decode(singles[i]) for i in image.order])
    dicm = sum(c.size for s in singles for c in svdcodec.read_header(s).chunks
               if c.type == "dicm")
    raw = sum(map(len, image.headers))
    print(f"== {name}: {len(files)} slices {image.pixels.shape[1:]}, {image.bits} bits, "
          f"quality {quality}")
    print(f"  DICOM files: {sum(map(len, files)):,} bytes; headers without pixel data: "
          f"{raw:,} bytes")
    print(f"  {len(files)} separate .svdi: {single_bytes:,} bytes ({dicm:,} in dicm chunks), "
          f"mean PSNR {mean_psnr(image.pixels, decoded, image.bits):.2f} dB")
    for coding in ("tall", "snapshot", "auto"):
        data = series.encode_series(files, coding=coding, quality=quality)
        info = svdcodec.read_header(data)
        dser = sum(c.size for c in info.chunks if c.type == "dser")
        stack = svdcodec.decode_stack(data)
        print(f"  one stack ({coding} -> {info.stack_coding}): {len(data):,} bytes "
              f"({len(data) / single_bytes:.1%}), dser {dser:,} bytes ({dser / raw:.1%} of the "
              f"raw headers), mean PSNR {mean_psnr(image.pixels, stack, image.bits):.2f} dB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=32)
    parser.add_argument("--size", type=int, default=128, help="the phantom's rows and columns")
    parser.add_argument("--quality", type=int, default=50)
    args = parser.parse_args(argv)
    measure(f"CT_small.dcm x {args.slices}", ct_small_series(args.slices), args.quality)
    measure(f"synthetic phantom x {args.slices}",
            [series.synthetic_slice(k, z=2.5 * k, size=(args.size, args.size))
             for k in range(args.slices)], args.quality)
    return 0


if __name__ == "__main__":
    sys.exit(main())
