"""Cone-beam FDK reconstruction onto arbitrary grids (RTK on CPU, TIGRE / RTK CUDA on GPU)."""
