"""The hardware simulator."""
