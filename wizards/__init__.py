"""The guided wizard: questionary prompts that build a platform config and its secrets."""
