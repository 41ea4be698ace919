"""Writing what a processed pair produces: OME-TIFF volumes, previews, report, markers."""
