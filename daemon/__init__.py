"""scoutzoom service: config, watcher, job store, worker, metrics, logs, CLI."""
