"""``python -m manifold_lab.cli``."""

from . import main

raise SystemExit(main())
