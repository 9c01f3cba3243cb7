"""``python -m bench``: what ``bench/run`` runs once the environment is set."""

import sys

from bench.main import main

sys.exit(main())
