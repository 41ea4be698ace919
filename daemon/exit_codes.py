"""CLI exit codes as named constants."""

OK = 0
FAILED = 1  # the requested work failed (pair failed, checks failed)
USAGE = 2  # bad command line or configuration
INTERRUPTED = 130
