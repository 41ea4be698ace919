"""Is a vendor source completely written? The per-format settle rules (cheap; headers only).

- ZEISS ``.txrm``/``.txm``: the compound file's header and FAT lie wholly in
  the file (:func:`~.ole.structure_problems`) and ``ImageInfo/ImagesTaken``
  equals ``ImageInfo/NoOfImages``. A writer that rewrites the header only at
  the end passes the first check early; the image count and the settle time
  cover that.
- Nikon ``.xtekct``: the INI parses, ``Projections`` TIFFs are present and
  each one's data lies inside its file.
- NXtomo: HDF5 opens (a writer holding the file open without SWMR locks it),
  and ``image_key`` and ``rotation_angle`` cover every frame of ``data``.
- bare volume files: TIFF pages all inside the file; ITK files' headers read.

Contract-v1 folders keep :func:`pipeline.acquisition.completeness.check_scan`.
"""

from __future__ import annotations

from pathlib import Path

from models.errors import InputError
from pipeline.acquisition.completeness import Completeness
from pipeline.acquisition.formats.registry import Source


def _done(problems: list[str], where: Path) -> Completeness:
    return Completeness(complete=not problems, reasons=[f"{where.name}: {p}" for p in problems])


def _tiff_problems(path: Path) -> list[str]:
    from pipeline.acquisition.tiffcheck import inspect_tiff

    try:
        info = inspect_tiff(path)
    except InputError as error:
        return [error.problem]
    except FileNotFoundError:
        return ["vanished while checking"]
    return [] if info.complete_pages == info.pages else [f"page {info.complete_pages} of {info.pages} not written yet"]


def zeiss_problems(path: Path) -> list[str]:
    from pipeline.acquisition.formats.ole import structure_problems
    from pipeline.acquisition.formats.zeiss import images_written

    problems = structure_problems(path)
    if problems:
        return problems
    try:
        taken, planned = images_written(path)
    except InputError as error:
        return [error.problem]
    return [] if taken >= planned else [f"{taken} of {planned} images written"]


def nikon_problems(path: Path) -> list[str]:
    from pipeline.acquisition.formats.nikon import XtekFile, projection_files

    try:
        xtek = XtekFile(path)
        count = xtek.integer("Projections")
    except InputError as error:
        return [error.problem]
    files = projection_files(xtek)
    if len(files) < count:
        return [f"{len(files)} of {count} projection TIFFs"]
    for file in files:
        problems = _tiff_problems(file)
        if problems:
            return [f"{file.name}: {problems[0]}"]
    return []


def nxtomo_problems(path: Path) -> list[str]:
    import h5py

    from pipeline.acquisition.formats.nxtomo import EntryReader, find_entry

    try:
        with h5py.File(path, "r") as handle:
            reader = EntryReader(find_entry(handle, path), path)
            frames = reader.dataset("instrument/detector/data").shape[0]
            for name in ("instrument/detector/image_key", "sample/rotation_angle"):
                if reader.has(name) and reader.dataset(name).shape[0] != frames:
                    return [f"{name} has {reader.dataset(name).shape[0]} of {frames} frames"]
    except InputError as error:
        return [error.problem]
    except OSError as error:
        return [f"HDF5 not readable yet (being written?): {error}"]
    return []


def volume_file_problems(path: Path) -> list[str]:
    from pipeline.acquisition.volume_files import volume_kind

    kind = volume_kind(path)
    if kind == "tiff":
        return _tiff_problems(path)
    if kind == "slices":
        for file in sorted(
            p for p in path.iterdir() if p.suffix.lower() in (".tif", ".tiff") and not p.name.startswith(".")
        ):
            problems = _tiff_problems(file)
            if problems:
                return [f"{file.name}: {problems[0]}"]
        return []
    if kind == "txm":
        return zeiss_problems(path)
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return ["header not readable yet"]
    return []


def check_source(source: Source) -> Completeness:
    """Completeness of any source found by :func:`~.registry.detect`."""
    if source.kind == "contract":
        from pipeline.acquisition.completeness import check_scan

        return check_scan(source.path)
    if not source.path.exists():
        return _done(["missing"], source.path)
    if source.kind in ("zeiss-txrm", "zeiss-txm"):
        return _done(zeiss_problems(source.path), source.path)
    if source.kind == "nikon-xtekct":
        return _done(nikon_problems(source.path), source.path)
    if source.kind == "nxtomo":
        return _done(nxtomo_problems(source.path), source.path)
    if source.kind == "volume-scan":
        from pipeline.acquisition.volume import read_volume_metadata

        try:
            meta = read_volume_metadata(source.path)
        except InputError as error:
            return _done([error.problem], source.path)
        target = source.path / meta.volume.file
        return _done(volume_file_problems(target) if target.exists() else [f"{meta.volume.file} missing"], source.path)
    return _done(volume_file_problems(source.path), source.path)
