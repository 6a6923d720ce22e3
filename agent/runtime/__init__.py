"""The runtime: wiring a profile to a hardware backend and the agent's services."""
