"""Drivers for real parts, each implementing a protocol of :mod:`agent.hal`.

One module per part, written from the part's datasheet or protocol document (named in its
docstring), with framing and register maps as pure functions; each is tested against a
bus-level fake of its part in :mod:`hal_sim.fakes` and passes the HAL conformance suite.
:mod:`drivers.assembly` builds a device's :class:`~agent.hal.Hardware` from its profile's
``[wiring]``; the ``drivers`` backend runs it on a Raspberry Pi's buses
(:mod:`drivers.platform`), ``drivers_sim`` over the fakes. ``docs/hardware.md`` lists the parts.
"""
