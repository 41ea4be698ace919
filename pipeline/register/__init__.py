"""Scout-to-zoom registration: FFT phase correlation, then Mattes MI (translation, then 9 DOF)."""
