"""Running a plan: runner, typed events, journal, redaction."""
