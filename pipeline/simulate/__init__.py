"""Simulated scout/zoom pairs of a foam phantom, with exact ground truth.

Every quality figure of the project is measured on these pairs, so the
physics is honest: exact analytic cone-beam line integrals in the contract v1
frame, detector blur, Poisson noise, flat/dark frames, an interior zoom scan
with a wrong stage position (and optionally a remount rotation and a scale
error), and truth volumes voxelised on any grid.
"""

from pipeline.simulate.config import PhantomSettings, ScanSettings, SimulationConfig
from pipeline.simulate.pair import simulate_pair
from pipeline.simulate.phantom import Cylinder, Phantom, Pore, generate_phantom
from pipeline.simulate.project import project_phantom
from pipeline.simulate.truth import SimulationTruth, TruthGrids, load_truth, read_truth_volume
from pipeline.simulate.voxelise import voxelise

__all__ = [
    "Cylinder",
    "Phantom",
    "PhantomSettings",
    "Pore",
    "ScanSettings",
    "SimulationConfig",
    "SimulationTruth",
    "TruthGrids",
    "generate_phantom",
    "load_truth",
    "project_phantom",
    "read_truth_volume",
    "simulate_pair",
    "voxelise",
]
