"""scoutzoom processing stages: plain functions on arrays and typed metadata.

Nothing here knows about watch folders, job stores, signals or Prometheus;
progress is reported through :mod:`models.events` callbacks.
"""

__version__ = "0.1.0"
