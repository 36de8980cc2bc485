"""Runs every tests/e2e/test_*.py and prints "e2e: N passed, N failed"."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
suite = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
print("e2e: %d passed, %d failed" % (max(0, result.testsRun - bad - len(result.skipped)), bad))
sys.exit(1 if bad else 0)
