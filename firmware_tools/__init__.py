"""Operator tools for a fleet: provisioning, signed updates, record export.

Empty until the issues that need them; profile validation, the first operator tool, is
``hemotrace config check`` in :mod:`agent.cli`.
"""
