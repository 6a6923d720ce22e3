"""``python -m hospital_receiver`` runs the ``hemotrace-receiver`` command."""

from hospital_receiver.cli import main

raise SystemExit(main())
