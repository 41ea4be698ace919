"""Quality evaluation: image metrics, effective resolution, pore analysis, trust report."""
