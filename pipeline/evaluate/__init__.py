"""Quality evaluation: image metrics, effective resolution, pore analysis, trust report.

Public entry points: :mod:`~pipeline.evaluate.metrics` (``psnr_db``, ``ssim``,
``ms_ssim_map``), :func:`~pipeline.evaluate.resolution.effective_resolution_mm`,
:func:`~pipeline.evaluate.pores.analyse_pores`,
:func:`~pipeline.evaluate.pore_match.match_pores` and
:func:`~pipeline.evaluate.trust.build_trust_report`.
"""
