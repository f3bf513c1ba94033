"""The Textual front end: the live install screen and the day-2 dashboard."""
