"""Exit codes, documented in the README; scripts rely on them."""

OK = 0
STEP_FAILED = 1
INVALID_CONFIG = 2
INTERRUPTED = 130
