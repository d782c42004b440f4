#!/usr/bin/env python3
"""The local test bed's command line: `up`, `down`, `status` (tests/testbed/README.md; `testbed.py --help`).

The code is in the package testbed_lib/ next to this file, one concern a module (its __init__ lists them).
"""
import sys

from testbed_lib.cli import main

if __name__ == "__main__":
    sys.exit(main())
