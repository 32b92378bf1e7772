"""Entry point of the one-file build (scripts/build): the `veza` command."""

from veza.cli import main

raise SystemExit(main())
