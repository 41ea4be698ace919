"""Scout-to-zoom registration: FFT phase correlation, then Mattes MI (translation, then 9 DOF)."""

from pipeline.register.config import RegistrationConfig
from pipeline.register.register import register_scout_to_zoom
from pipeline.register.result import Confidence, Registered, RegistrationResult, StepSeconds

__all__ = ["Confidence", "Registered", "RegistrationConfig", "RegistrationResult", "StepSeconds", "register_scout_to_zoom"]
