"""The simulator in a terminal: ``hemotrace sim``.

* :mod:`hal_sim.live.launch` - :func:`~hal_sim.live.launch.run_simulator`, the entry point: the
  live view on a terminal, plain log and status lines elsewhere;
* :mod:`hal_sim.live.app` - the live view, a Textual app on the simulation's virtual-time loop;
* :mod:`hal_sim.live.panels` - the widgets it is made of;
* :mod:`hal_sim.live.commands` - the bench command line, parsed without Textual;
* :mod:`hal_sim.live.cabinet_commands` - its commands for a dispensing cabinet's workflows;
* :mod:`hal_sim.live.bench` - what the commands act on (the device, the session, the units in
  hand);
* :mod:`hal_sim.live.describe` - one-line texts for events, units and status;
* :mod:`hal_sim.live.stockroom` - blood units made up for the bench;
* :mod:`hal_sim.live.plain` - the plain (non-interactive) mode.
"""
