"""Cheap, defensive inspection of TIFF files before reading them, and bounded reading.

Inspection reads only the header and page directories (:mod:`.ifd`, a bounded
walk with loop detection): page count, shape and dtype of each page, and
whether every page's data lies inside the file (a file still being written, or
cut short, fails that). Reading checks the decoded size against a byte budget
before any pixel is decoded, then decodes page by page (tifffile) into one
array, so the check and the reader agree on what a page is, whatever series
tifffile would group them into. Errors name the file and page and are
:class:`InputError`, never tifffile's own exceptions, and never quote file
content.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import tifffile
from pydantic import BaseModel

from models.errors import InputError
from pipeline.acquisition.bounded import open_regular, read_range
from pipeline.acquisition.ifd import Page, walk_pages

MAX_PAGE_PIXELS = 32768 * 32768
MAX_PAGES = 200_000
INSPECT_BUDGET_S = 5.0  # one file's directory walk; a legitimate 100,000-page stack takes well under 1 s
BLANK_SAMPLES = 16  # chunks read from a page to tell "never written" (all zero bytes) from data
BLANK_CHUNK_BYTES = 4096
READABLE_DTYPES = ("uint16", "float32", "uint8", "float64", "uint32", "int16", "int32")


class TiffLayout(BaseModel):
    """What a TIFF holds: number of pages, the (common) page shape and dtype."""

    pages: int
    shape: tuple[int, int]
    dtype: str
    complete_pages: int  # pages whose data lies wholly inside the file
    last_page_blank: bool = False  # sampled bytes of the last page's data are all zero (preallocated, not written yet)


def _last_page_blank(fd: int, page: Page) -> bool:
    """True when ``BLANK_SAMPLES`` chunks spread over the page's data are all zero bytes."""
    total = sum(count for _, count in page.segments)
    if total <= 0:
        return True
    step = max(1, total // BLANK_SAMPLES)
    for position in range(0, total, step):
        remaining = position
        for offset, count in page.segments:
            if remaining < count:
                chunk = read_range(fd, offset + remaining, min(BLANK_CHUNK_BYTES, count - remaining))
                if chunk.strip(b"\0"):
                    return False
                break
            remaining -= count
    return True


def _check_page(path: Path, index: int, page: Page, first: Page | None) -> None:
    if page.samples != 1:
        raise InputError(path, f"page {index}: expected a 2-D grey image, got {page.samples} samples per pixel")
    if min(page.shape) < 1 or page.shape[0] * page.shape[1] > MAX_PAGE_PIXELS:
        raise InputError(path, f"page {index}: header claims absurd dimensions {page.shape}")
    if first is not None and (page.shape, page.dtype) != (first.shape, first.dtype):
        raise InputError(
            path, f"page {index}: shape {page.shape} {page.dtype} differs from page 0 ({first.shape} {first.dtype})"
        )


def inspect_tiff(
    path: Path,
    *,
    max_pages: int = MAX_PAGES,
    budget_s: float = INSPECT_BUDGET_S,
    boundary: Path | None = None,
    blank_check: bool = False,
) -> TiffLayout:
    """Inspect ``path`` without decoding pixel data; raise :class:`InputError` on anything odd.

    ``max_pages``: more pages is an error (pass what the metadata promises);
    ``boundary``: a link leading outside it is an error; ``blank_check``:
    sample the last page's bytes for :attr:`TiffLayout.last_page_blank`.
    """
    path = Path(path)
    fd = open_regular(path, boundary)
    try:
        size = os.fstat(fd).st_size
        if size < 8:
            raise InputError(path, f"not a TIFF file (only {size} bytes)")
        pages = walk_pages(path, fd, size, max_pages=max_pages, budget_s=budget_s)
        if not pages:
            raise InputError(path, "TIFF has no pages")
        for index, page in enumerate(pages):
            _check_page(path, index, page, pages[0] if index else None)
        complete = sum(1 for page in pages if page.data_inside(size))
        blank = blank_check and pages[-1].data_inside(size) and _last_page_blank(fd, pages[-1])
    finally:
        os.close(fd)
    return TiffLayout(
        pages=len(pages), shape=pages[0].shape, dtype=pages[0].dtype, complete_pages=complete, last_page_blank=blank
    )


def decoded_bytes(info: TiffLayout) -> int:
    """Bytes of all pages once decoded (pages x rows x columns x item size)."""
    itemsize = np.dtype(info.dtype).itemsize if info.dtype != "unknown" else 8
    return info.pages * info.shape[0] * info.shape[1] * itemsize


def _scrub(message: str) -> str:
    """An exception message without quoted bytes (error messages never quote file content)."""
    return re.sub(r"b(['\"]).*?\1", "<bytes>", message)[:200]


def read_tiff(
    path: Path,
    *,
    expected_shape: tuple[int, int] | None = None,
    max_pages: int = MAX_PAGES,
    max_bytes: int | None = None,
    boundary: Path | None = None,
) -> np.ndarray:
    """Read a whole TIFF (all pages stacked, ``[page, row, column]``) after inspecting it.

    ``expected_shape`` is checked if given; ``max_bytes`` bounds the decoded size,
    checked before any pixel is decoded.
    """
    path = Path(path)
    info = inspect_tiff(path, max_pages=max_pages, boundary=boundary)
    if expected_shape is not None and info.shape != tuple(expected_shape):
        raise InputError(path, f"page shape {info.shape} does not match detector_shape {tuple(expected_shape)}")
    if info.complete_pages < info.pages:
        raise InputError(path, f"truncated: only {info.complete_pages} of {info.pages} pages have all their data")
    if info.dtype not in READABLE_DTYPES:
        raise InputError(path, f"unsupported pixel type {info.dtype} (contract v1: uint16 or float32)")
    if max_bytes is not None and decoded_bytes(info) > max_bytes:
        raise InputError(
            path,
            f"decodes to {decoded_bytes(info) / 2**20:.0f} MiB ({info.pages} pages of {info.shape} "
            f"{info.dtype}), more than the {max_bytes / 2**20:.0f} MiB memory budget",
        )
    data = np.empty((info.pages, *info.shape), dtype=info.dtype)
    tiff_logger = logging.getLogger("tifffile")
    previous_level = tiff_logger.level
    tiff_logger.setLevel(logging.CRITICAL)  # we report problems ourselves, naming the file and page
    fd = open_regular(path, boundary)
    try:
        with os.fdopen(fd, "rb") as handle, tifffile.TiffFile(handle, name=path.name) as tif:
            pages = tif.pages
            pages.cache = False
            for index in range(info.pages):
                page = pages[index]
                if tuple(page.shape) != info.shape:
                    raise InputError(
                        path, f"page {index}: decoded shape {tuple(page.shape)} differs from its directory"
                    )
                data[index] = page.asarray()
    except InputError:
        raise
    except Exception as error:  # tifffile and the codecs raise many types on corrupt files
        raise InputError(path, f"unreadable TIFF data ({type(error).__name__}: {_scrub(str(error))})") from None
    finally:
        tiff_logger.setLevel(previous_level)
    return data
