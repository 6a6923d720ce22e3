"""hemotrace: the edge agent of IoT blood-dispensing cabinets, blood fridges and transport boxes.

The agent drives the hardware through the hardware abstraction layer (:mod:`agent.hal`), turns
everything it observes into stamped events (:mod:`agent.events`), and runs its services on a
clock handed to it from outside (:mod:`agent.clock`), so that the same code runs on a device,
in the simulator (:mod:`hal_sim`) and in tests on virtual time.
"""

__version__ = "0.1.0"
