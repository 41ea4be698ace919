"""Classical baselines: cubic/trilinear upsampling, Richardson-Lucy, 3D SRCNN."""
