"""Runs reference solutions against their tests in a fresh interpreter: reads a JSON list of
`{"solution", "tests"}` (and an optional "timeout_s") on stdin and writes a JSON list of verdicts (True where every
assert passed), 2 s per item unless it says otherwise.
Started by `moe_system.data.python.run_tests` as `python -s -P runner.py` in a clean environment with a fixed hash
seed; it imports nothing of the package.
"""

import json
import signal
import sys


def _timeout(*_: object) -> None:
    raise TimeoutError


def main() -> None:
    signal.signal(signal.SIGALRM, _timeout)
    verdicts = []
    for item in json.load(sys.stdin):
        namespace = {"__name__": "__solution__"}
        try:
            signal.setitimer(signal.ITIMER_REAL, item.get("timeout_s", 2.0))
            exec(item["solution"], namespace)
            exec(item["tests"], namespace)
            verdicts.append(True)
        except BaseException:
            verdicts.append(False)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    json.dump(verdicts, sys.stdout)


if __name__ == "__main__":
    main()
