#!/usr/bin/env python
import sys

from commandcenter.cli import main

if __name__ == "__main__":
    sys.exit(main())
