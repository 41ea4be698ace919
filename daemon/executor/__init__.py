"""Where pair jobs run: worker threads of the daemon (``local``) or a Dask distributed cluster (``dask``).

The job store stays in the daemon either way; only the call of the processor
moves. :func:`daemon.executor.base.make_processor` picks one; nothing here
imports Dask unless ``[executor] kind = "dask"``.
"""
