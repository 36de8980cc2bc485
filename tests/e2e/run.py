"""Runs the end-to-end tests and prints "e2e: N passed, N failed".

    run.py                every tests/e2e/test_*.py
    run.py PATTERN        the files matching PATTERN (test_auth.py, test_b*.py)
    run.py --servers      the files that go through what differs between
                          web server configurations (SERVERS below; with
                          an -https configuration the two-payer files too):
                          scripts/test.sh --servers runs these for each
                          extra configuration
"""
import os
import sys
import unittest

# Routing and refusals (foundation, Consent, Group), the whole
# receiving-payer session with Bulk Data's $export and the public
# documents (jwks.json), what the web server must pass on or answer
# itself, bulk files, logs, users and HTTPS (deploy), unmodified FHIR
# clients, and concurrency (soak): about a minute a configuration.
SERVERS = ("test_deploy.py", "test_foundation.py", "test_consent.py", "test_group.py",
           "test_generic_clients.py", "test_soak.py")
# Over HTTPS, also two payers talking to each other (p2p-request with
# ca_file, the JWKS URL, a peer's certificate refused without its CA).
if os.environ.get("P2P_E2E_SERVER", "").endswith("-https"):
    SERVERS += ("test_payer_to_payer.py", "test_p2p_faults.py")

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
args = sys.argv[1:]
patterns = SERVERS if args == ["--servers"] else args or ["test_*.py"]
suite = unittest.TestSuite(unittest.defaultTestLoader.discover(here, pattern=p, top_level_dir=here)
                           for p in patterns)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
print("e2e: %d passed, %d failed" % (max(0, result.testsRun - bad - len(result.skipped)), bad))
sys.exit(1 if bad else 0)
