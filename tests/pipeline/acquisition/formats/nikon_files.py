"""Nikon xtekct fixtures written with configparser and tifffile, as Nikon lays them out."""

from __future__ import annotations

import configparser
from pathlib import Path

import numpy as np
import tifffile

from tests.pipeline.acquisition.formats.conftest import ANGLES, COLUMNS, ROWS

WHITE = 60000.0


def write_xtekct(folder: Path, projections: np.ndarray, **keys: object) -> Path:
    """An xtekct scan as Nikon lays it out: ``<Name>.xtekct`` and ``<Name>_0001.tif`` ... beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    values = {
        "Name": "foam",
        "InputFolderName": "",
        "Projections": ANGLES,
        "InitialAngle": 0.0,
        "AngularStep": 30.0,
        "DetectorPixelsX": COLUMNS,
        "DetectorPixelsY": ROWS,
        "DetectorPixelSizeX": 0.1,
        "DetectorPixelSizeY": 0.1,
        "DetectorOffsetX": 0.0,
        "DetectorOffsetY": 0.0,
        "SrcToObject": 20.0,
        "SrcToDetector": 200.0,
        "ObjectOffsetX": -0.0125,
        "ObjectRoll": 0.0,
        "ObjectTilt": 0.0,
        "WhiteLevel": WHITE,
        "XraykV": 80,
        "XrayuA": 87,
        "Filter_Material": "Copper",
        "Filter_ThicknessMM": 0.5,
    }
    values.update(keys)
    parser = configparser.ConfigParser()
    parser.optionxform = str
    parser["XTekCT"] = {k: str(v) for k, v in values.items() if v is not None}
    path = folder / f"{values['Name']}.xtekct"
    with open(path, "w") as handle:
        parser.write(handle)
    for index, projection in enumerate(projections):
        tifffile.imwrite(folder / f"{values['Name']}_{index + 1:04d}.tif", projection)
    return path
