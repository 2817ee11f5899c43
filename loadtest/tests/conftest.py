"""Makes `harness` importable from the tests, as it is for `loadtest/run` and the locustfile."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
