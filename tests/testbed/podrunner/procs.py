"""The process layer: start the process a Launch describes, watch it, stop it by its own handle.

Nothing here talks to Kubernetes, so the standalone tests use it directly. A process is only ever signalled
through its Popen handle (its pid), never looked up by name.
"""

import os
import signal
import subprocess
import threading
import time


def write_launch_files(launch):
    """The entrypoint's side effects: directories, config files (every start), myid (only if missing)."""
    for d in launch.dirs:
        os.makedirs(d, exist_ok=True)
    for path, content in launch.files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(content)
        os.replace(tmp, path)
    for path, content in launch.files_if_missing.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(content)


class Process:
    """One run of a container's process. ``log_path`` gets its stdout and stderr (appended)."""

    def __init__(self, launch, log_path, pid_path=None):
        self.launch = launch
        self.log_path = log_path
        self.pid_path = pid_path
        self.popen = None
        self.started_at = None
        self.finished_at = None
        self.exit_code = None
        self.stopped_by_us = False
        self._lock = threading.Lock()

    def start(self):
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self.started_at = time.time()
        with open(self.log_path, "ab") as log:
            log.write(("\n==== testbed podrunner: %s: %s\n" % (
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), self.launch.description)).encode())
            if self.launch.error:
                # The image's entrypoint refuses to start: it prints why and exits 1.
                log.write((self.launch.error + "\n").encode())
                self.exit_code = 1
                self.finished_at = time.time()
                return self
            write_launch_files(self.launch)
            log.write(("==== " + " ".join(self.launch.argv) + "\n").encode())
            log.flush()
            os.makedirs(self.launch.cwd, exist_ok=True)
            self.popen = subprocess.Popen(
                self.launch.argv, env=self.launch.env, cwd=self.launch.cwd, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        if self.pid_path:
            with open(self.pid_path, "w") as f:
                f.write("%d\n" % self.popen.pid)
        return self

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def alive(self):
        if self.popen is None:
            return False
        code = self.popen.poll()
        if code is not None and self.exit_code is None:
            self.exit_code = code
            self.finished_at = time.time()
            self._drop_pid_file()
        return code is None

    def stop(self, grace_seconds):
        """SIGTERM, wait up to the grace period, then SIGKILL. Returns the exit code."""
        with self._lock:
            if self.popen is None:
                return self.exit_code
            if self.popen.poll() is None:
                self.stopped_by_us = True
                try:
                    self.popen.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.popen.wait(timeout=max(0.0, float(grace_seconds)))
                except subprocess.TimeoutExpired:
                    try:
                        self.popen.kill()
                    except ProcessLookupError:
                        pass
                    self.popen.wait()
            self.alive()
            return self.exit_code

    def _drop_pid_file(self):
        if self.pid_path:
            try:
                os.unlink(self.pid_path)
            except FileNotFoundError:
                pass

    def termination_reason(self):
        if self.exit_code == 0:
            return "Completed"
        if self.exit_code is not None and self.exit_code < 0:
            return "Error"  # killed by a signal
        return "Error"

    def exit_status(self):
        """Exit code as a container runtime reports it (128 + signal for a signalled process)."""
        if self.exit_code is None:
            return None
        return 128 - self.exit_code if self.exit_code < 0 else self.exit_code
