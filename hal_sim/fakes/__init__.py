"""Bus-level fakes of real parts: what a driver in :mod:`drivers` talks to in tests and on the
bench - a fake ``RPi.GPIO`` module, a fake 1-Wire sysfs tree, fake buses - each with the same
semantics and errors as the real interface, and bench hooks to provoke what the hardware does.
:mod:`hal_sim.fakes.platform` wires them together as a profile's ``[wiring]`` says, for the
``drivers_sim`` backend."""
