"""Read a reconstructed volume file into ``[z, y, x]`` float32 plus the voxel size the file carries.

Kinds (DESIGN.md "Volume scans"): OME-TIFF (``PhysicalSize*`` with units),
a multi-page TIFF (ImageJ ``spacing``/``unit`` and resolution tags when
present), a folder of 2-D TIFF slices sorted by name, a ZEISS ``.txm`` (see
:mod:`pipeline.acquisition.formats.zeiss`) and any file SimpleITK reads (NRRD,
MHA/MHD, NIfTI; ITK spacing carries no unit and is taken as millimetres, the
ITK convention). The array comes back as stored, slice 0 first: the caller
applies ``slice_order``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile

from models.errors import InputError

TIFF_SUFFIXES = (".tif", ".tiff")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd", ".nii", ".nii.gz", ".vtk")
TXM_SUFFIX = ".txm"
# Length units as written by OME (UnitsLength) and ImageJ, in millimetres.
UNIT_MM = {
    "m": 1e3,
    "mm": 1.0,
    "millimeter": 1.0,
    "millimetre": 1.0,
    "cm": 10.0,
    "µm": 1e-3,
    "um": 1e-3,
    "\u03bcm": 1e-3,
    "micron": 1e-3,
    "microns": 1e-3,
    "micrometer": 1e-3,
    "micrometre": 1e-3,
    "nm": 1e-6,
    "nanometer": 1e-6,
}


@dataclass
class VolumeFile:
    """A volume as stored: ``[z, y, x]`` (slice 0 first), its voxel size ``(z, y, x)`` mm if the file says, notes."""

    data: np.ndarray
    voxel_zyx_mm: tuple[float, float, float] | None
    kind: str
    warnings: list[str] = field(default_factory=list)


def _unit_mm(path: Path, unit: str | None) -> float | None:
    if unit is None:
        return None
    factor = UNIT_MM.get(unit.strip().lower()) or UNIT_MM.get(unit.strip())
    if factor is None:
        raise InputError(path, f"unknown length unit {unit!r} in the volume metadata")
    return factor


def _ome_voxel(path: Path, tif: tifffile.TiffFile) -> tuple[float, float, float] | None:
    """``PhysicalSizeZ/Y/X`` (default unit µm, as OME says) in mm; None when any is missing."""
    import xml.etree.ElementTree as ET

    xml = tif.ome_metadata
    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as error:
        raise InputError(path, f"OME-XML does not parse: {error}") from None
    pixels = next((el for el in root.iter() if el.tag.endswith("}Pixels") or el.tag == "Pixels"), None)
    if pixels is None:
        return None
    sizes = []
    for axis in ("Z", "Y", "X"):
        value = pixels.get(f"PhysicalSize{axis}")
        if value is None:
            return None
        factor = _unit_mm(path, pixels.get(f"PhysicalSize{axis}Unit", "µm"))
        sizes.append(float(value) * float(factor))
    return (sizes[0], sizes[1], sizes[2])


def _imagej_voxel(path: Path, tif: tifffile.TiffFile) -> tuple[float, float, float] | None:
    """ImageJ ``spacing`` (z) and the X/YResolution tags (pixels per unit), in ImageJ's ``unit``; else None."""
    meta = tif.imagej_metadata or {}
    if "spacing" not in meta or "unit" not in meta:
        return None
    factor = _unit_mm(path, str(meta["unit"]).replace("\\u00B5", "µ"))
    page = tif.pages[0]
    sizes_xy = []
    for tag in ("YResolution", "XResolution"):
        value = page.tags.get(tag)
        if value is None:
            return None
        numerator, denominator = value.value
        if numerator <= 0:
            return None
        sizes_xy.append(denominator / numerator)
    return (float(meta["spacing"]) * factor, sizes_xy[0] * factor, sizes_xy[1] * factor)  # type: ignore[operator]


def read_tiff_volume(path: Path) -> VolumeFile:
    """An OME-TIFF or multi-page TIFF: one page per z-slice."""
    try:
        with tifffile.TiffFile(path) as tif:
            data = tif.asarray()
            voxel = _ome_voxel(path, tif) if tif.is_ome else None
            kind = "ome-tiff" if tif.is_ome else "multipage-tiff"
            if voxel is None and tif.is_imagej:
                voxel = _imagej_voxel(path, tif)
    except (tifffile.TiffFileError, ValueError, OSError) as error:
        raise InputError(path, f"not a readable TIFF volume: {error}") from None
    data = np.squeeze(data)
    if data.ndim != 3:
        raise InputError(path, f"expected a 3-D stack (one page per slice), got shape {data.shape}")
    return VolumeFile(data=data, voxel_zyx_mm=voxel, kind=kind)


def read_slice_folder(folder: Path) -> VolumeFile:
    """A folder of 2-D TIFF slices, sorted by name (hidden files ignored); all the same shape and type."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in TIFF_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise InputError(folder, "no TIFF slices in the folder")
    first = _one_slice(files[0])
    data = np.empty((len(files), *first.shape), dtype=first.dtype)
    data[0] = first
    for index, file in enumerate(files[1:], start=1):
        page = _one_slice(file)
        if page.shape != first.shape or page.dtype != first.dtype:
            raise InputError(
                file, f"slice is {page.shape} {page.dtype}, the first ({files[0].name}) is {first.shape} {first.dtype}"
            )
        data[index] = page
    voxel = None
    with tifffile.TiffFile(files[0]) as tif:
        if tif.is_imagej:
            voxel = _imagej_voxel(files[0], tif)
    return VolumeFile(data=data, voxel_zyx_mm=voxel, kind="slice-folder")


def _one_slice(path: Path) -> np.ndarray:
    try:
        page = np.squeeze(tifffile.imread(path))
    except (tifffile.TiffFileError, ValueError, OSError) as error:
        raise InputError(path, f"not a readable TIFF slice: {error}") from None
    if page.ndim != 2:
        raise InputError(path, f"expected one 2-D slice, got shape {page.shape}")
    return page


def read_itk_volume(path: Path) -> VolumeFile:
    """A SimpleITK-readable volume; an axis-aligned direction (±1 on the diagonal) is undone by flipping axes."""
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(path, f"SimpleITK cannot read it: {str(error).strip().splitlines()[-1]}") from None
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            path,
            f"expected a 3-D scalar volume, got {image.GetDimension()}-D "
            f"with {image.GetNumberOfComponentsPerPixel()} components",
        )
    data = sitk.GetArrayFromImage(image)  # [z, y, x]
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    signs = np.diag(direction)
    if not np.allclose(np.abs(direction), np.eye(3), atol=1e-6):
        raise InputError(
            path, f"direction {tuple(round(v, 4) for v in direction.ravel())} is not axis-aligned; resample it first"
        )
    warnings = []
    for axis_xyz, sign in enumerate(signs):
        if sign < 0:
            data = np.flip(data, axis=2 - axis_xyz)
            warnings.append(
                f"{path.name}: ITK direction flips axis {'xyz'[axis_xyz]}; flipped so indices increase along it"
            )
    spacing = image.GetSpacing()
    return VolumeFile(
        data=np.ascontiguousarray(data),
        voxel_zyx_mm=(spacing[2], spacing[1], spacing[0]),
        kind="itk",
        warnings=warnings,
    )


def volume_kind(path: Path) -> str | None:
    """Which reader a path needs: ``tiff``, ``slices``, ``itk``, ``txm`` or None."""
    name = path.name.lower()
    if path.is_dir():
        return "slices"
    if name.endswith(TIFF_SUFFIXES):
        return "tiff"
    if name.endswith(TXM_SUFFIX):
        return "txm"
    if name.endswith(ITK_SUFFIXES):
        return "itk"
    return None


def read_volume_file(path: Path) -> VolumeFile:
    """Read any supported volume file (see module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "missing")
    kind = volume_kind(path)
    if kind == "slices":
        return read_slice_folder(path)
    if kind == "tiff":
        return read_tiff_volume(path)
    if kind == "txm":
        from pipeline.acquisition.formats.zeiss import read_txm_volume

        return read_txm_volume(path)
    if kind == "itk":
        return read_itk_volume(path)
    raise InputError(path, "unknown volume format (OME-TIFF, TIFF, a folder of TIFF slices, .txm, NRRD, MHA, NIfTI)")


def volume_header(path: Path) -> tuple[tuple[int, int, int], tuple[float, float, float] | None]:
    """Shape ``(z, y, x)`` and voxel size (mm, if the file says) without reading the voxels."""
    path = Path(path)
    kind = volume_kind(path)
    if kind == "tiff":
        try:
            with tifffile.TiffFile(path) as tif:
                shape = tuple(s for s in tif.series[0].shape if s != 1)
                voxel = _ome_voxel(path, tif) if tif.is_ome else None
                if voxel is None and tif.is_imagej:
                    voxel = _imagej_voxel(path, tif)
        except (tifffile.TiffFileError, ValueError, OSError, IndexError) as error:
            raise InputError(path, f"not a readable TIFF volume: {error}") from None
        if len(shape) != 3:
            raise InputError(path, f"expected a 3-D stack (one page per slice), got shape {shape}")
        return (int(shape[0]), int(shape[1]), int(shape[2])), voxel
    if kind == "slices":
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in TIFF_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise InputError(path, "no TIFF slices in the folder")
        first = _one_slice(files[0])
        return (len(files), int(first.shape[0]), int(first.shape[1])), None
    if kind == "txm":
        from pipeline.acquisition.formats.zeiss import txm_header

        return txm_header(path)
    if kind == "itk":
        import SimpleITK as sitk

        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        try:
            reader.ReadImageInformation()
        except RuntimeError as error:
            raise InputError(path, f"SimpleITK cannot read it: {str(error).strip().splitlines()[-1]}") from None
        size, spacing = reader.GetSize(), reader.GetSpacing()
        if len(size) != 3:
            raise InputError(path, f"expected a 3-D volume, got {len(size)}-D")
        return (size[2], size[1], size[0]), (spacing[2], spacing[1], spacing[0])
    raise InputError(path, "unknown volume format (OME-TIFF, TIFF, a folder of TIFF slices, .txm, NRRD, MHA, NIfTI)")
