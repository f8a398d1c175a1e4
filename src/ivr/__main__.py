"""`python -m ivr` runs the command-line interface."""

from ivr.cli import main

raise SystemExit(main())
