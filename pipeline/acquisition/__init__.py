"""Acquisition folder contract v1: metadata models, reader, writer, completeness."""
