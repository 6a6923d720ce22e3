"""``python -m agent`` runs the ``hemotrace`` command."""

from agent.cli import main

raise SystemExit(main())
