"""The foam-phantom study: pore recovery, porosity, sphericity and image metrics of each
resolution-recovery method at ratios 3:1 to 9:1 (``scoutzoom bench foam``)."""
