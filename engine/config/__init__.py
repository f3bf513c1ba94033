"""The platform config: versioned pydantic models, validation, secrets."""
