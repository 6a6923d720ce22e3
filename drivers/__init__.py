"""Drivers for real parts, each implementing a protocol of :mod:`agent.hal`.

One module per part, written from the part's datasheet or protocol document, with framing and
register maps as pure functions; each is tested against a bus-level fake of its part in
``hal_sim`` and must pass the HAL conformance suite. The first drivers arrive with the
real-hardware issue; until then the only backend is the simulator (``hardware.backend = "sim"``).
"""
