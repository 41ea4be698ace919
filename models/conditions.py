"""The acquisition conditions of a scan: the one record ``scan.json`` and the model card both hold.

It lives on the ground floor so the model card's saved format does not depend on the scan-metadata
classes, and the contract does not keep a second copy of the same fields.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AcquisitionConditions(BaseModel):
    """Scanner settings that decide whether a trained model fits another scan (all optional; unknown keys kept).

    ``voltage_kv`` tube voltage (kV), ``current_ua`` tube current (uA), ``filter`` and ``objective`` as the
    scanner names them, ``binning`` detector binning, ``exposure_s`` exposure per projection (s).
    """

    model_config = ConfigDict(extra="allow")

    voltage_kv: float | None = None
    current_ua: float | None = None
    filter: str | None = None
    objective: str | None = None
    binning: int | None = None
    exposure_s: float | None = None
