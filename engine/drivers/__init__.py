"""The only code that touches the outside world, behind protocols the engine owns."""
