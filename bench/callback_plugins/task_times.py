# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper: write each task's wall time to the JSON file named by BENCH_TASK_TIMES.

Enabled by bench/run.py only (ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins,
ANSIBLE_CALLBACKS_ENABLED=task_times); ansible.posix's profile_tasks does the same on screen, but that
collection is not a dependency of ours.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
name: task_times
type: aggregate
short_description: Write each task's wall time to a JSON file
description:
  - At the end of the playbook, writes a list of C({name, seconds}) (one entry per task, in order) to the file
    named by the E(BENCH_TASK_TIMES) environment variable.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.tasks = []
        self.current = None

    def _close_current(self):
        if self.current is not None:
            self.current["seconds"] = round(time.monotonic() - self.current.pop("started"), 3)
            self.tasks.append(self.current)
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close_current()
        self.current = {"name": task.get_name(), "started": time.monotonic()}

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats):
        self._close_current()
        path = os.environ.get("BENCH_TASK_TIMES")
        if path:
            with open(path, "w") as handle:
                json.dump(self.tasks, handle, indent=1)
