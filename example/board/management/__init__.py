"""Management commands of the board app."""
