"""Cheap, defensive inspection of TIFF files before reading them.

Reads only the header and page directories (no pixel data): page count,
shape and dtype of each page, and whether every page's data lies inside the
file (a file still being written, or cut short, fails that). Errors name the
file and page and are :class:`InputError`, never tifffile's own exceptions.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tifffile
from pydantic import BaseModel

from models.errors import InputError

MAX_PAGE_PIXELS = 32768 * 32768
MAX_PAGES = 200_000


class TiffLayout(BaseModel):
    """What a TIFF holds: number of pages, the (common) page shape and dtype."""

    pages: int
    shape: tuple[int, int]
    dtype: str
    complete_pages: int  # pages whose data lies wholly inside the file


def inspect_tiff(path: Path, *, max_pages: int = MAX_PAGES) -> TiffLayout:
    """Inspect ``path`` without reading pixel data; raise :class:`InputError` on anything odd."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InputError(path, f"cannot stat file: {error.strerror}") from None
    if size < 8:
        raise InputError(path, f"not a TIFF file (only {size} bytes)")
    tiff_logger = logging.getLogger("tifffile")
    previous_level = tiff_logger.level
    tiff_logger.setLevel(logging.CRITICAL)  # we report problems ourselves, naming the file and page
    try:
        with tifffile.TiffFile(path) as tif:
            pages = tif.pages
            pages.cache = False
            shape: tuple[int, int] | None = None
            dtype: str | None = None
            count = 0
            complete = 0
            for index, page in enumerate(pages):
                if index >= max_pages:
                    raise InputError(path, f"more than {max_pages} pages")
                page_shape = tuple(int(v) for v in page.shape)
                if len(page_shape) != 2:
                    raise InputError(path, f"page {index}: expected a 2-D grey image, got shape {page_shape}")
                if page_shape[0] * page_shape[1] > MAX_PAGE_PIXELS or min(page_shape) < 1:
                    raise InputError(path, f"page {index}: header claims absurd dimensions {page_shape}")
                page_dtype = str(np.dtype(page.dtype)) if page.dtype is not None else "unknown"
                if shape is None:
                    shape, dtype = page_shape, page_dtype  # type: ignore[assignment]
                elif page_shape != shape or page_dtype != dtype:
                    raise InputError(
                        path, f"page {index}: shape {page_shape} {page_dtype} differs from page 0 ({shape} {dtype})"
                    )
                count += 1
                ends = [int(o) + int(c) for o, c in zip(page.dataoffsets, page.databytecounts)]
                if ends and max(ends) <= size and all(int(c) > 0 for c in page.databytecounts):
                    complete += 1
    except InputError:
        raise
    except Exception as error:  # tifffile raises many types on corrupt files
        raise InputError(path, f"unreadable TIFF ({type(error).__name__}: {error})") from None
    finally:
        tiff_logger.setLevel(previous_level)
    if shape is None or dtype is None:
        raise InputError(path, "TIFF has no pages")
    return TiffLayout(pages=count, shape=shape, dtype=dtype, complete_pages=complete)


def read_tiff(path: Path, *, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a whole TIFF (all pages stacked) after inspecting it; shape checked if given."""
    info = inspect_tiff(path)
    if expected_shape is not None and info.shape != tuple(expected_shape):
        raise InputError(path, f"page shape {info.shape} does not match detector_shape {tuple(expected_shape)}")
    if info.complete_pages < info.pages:
        raise InputError(path, f"truncated: only {info.complete_pages} of {info.pages} pages have all their data")
    if info.dtype not in ("uint16", "float32", "uint8", "float64", "uint32", "int16", "int32"):
        raise InputError(path, f"unsupported pixel type {info.dtype} (contract v1: uint16 or float32)")
    try:
        data = tifffile.imread(path)
    except Exception as error:
        raise InputError(path, f"unreadable TIFF data ({type(error).__name__}: {error})") from None
    if data.ndim == 2:
        data = data[np.newaxis]
    return data
