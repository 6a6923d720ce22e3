"""Getting records to the hospital and commands back, losing nothing (invariants 2, 3 and 5).

:mod:`agent.sync.protocol` is the wire protocol itself - topics, messages and their CBOR
encoding - as pure code with no I/O; the MQTT link and the hospital receiver are built on it.
The protocol is specified for integrators in ``docs/protocol.md`` and ``docs/protocol.cddl``.
"""
