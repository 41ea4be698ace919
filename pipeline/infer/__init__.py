"""Tiled, streaming inference of 2.5D networks over whole volumes."""
