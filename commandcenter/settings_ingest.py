"""Settings of `commandcenter ingest`: the app's settings less the apps only the web uses.

An MTA's pipe starts one process per inbound message, so its start-up is paid per message
(make bench BENCH_ARGS=startup). Every setting is the app's own; only INSTALLED_APPS is
shorter. The console script picks this module for `ingest` (see commandcenter/cli.py).
"""

from commandcenter.settings import *  # noqa: F403 - the same settings, one source
from commandcenter.settings import INSTALLED_APPS, WEB_ONLY_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app not in WEB_ONLY_APPS]
