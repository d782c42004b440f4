"""The components' processes: started with a pid file and a log, waited for, stopped by pid (their command line
checked first). Nothing is ever signalled by name."""
import datetime
import os
import signal
import subprocess
import time

from testbed_lib.bed import Fail, log, write_file
from testbed_lib.procfs import cmdline_matches

STOP_GRACE = {"podrunner": 90, "etcd": 20}


def probe(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - anything means "not yet"
        return None


def wait_for(what, fn, timeout, bed=None, component=None, interval=0.2):
    """Poll fn until it returns something true; fail (with the component's log tail) after timeout."""
    t0 = time.time()
    while True:
        v = probe(fn)
        if v:
            return v
        code = exit_code(bed, component) if component and bed else None
        if code is not None:
            raise Fail("%s exited (%s) while waiting for %s; end of %s:\n%s"
                       % (component, code, what, bed.p("logs", component + ".log"),
                          tail(bed.p("logs", component + ".log"))))
        if time.time() - t0 > timeout:
            extra = ""
            if component and bed:
                extra = "; end of %s:\n%s" % (bed.p("logs", component + ".log"), tail(bed.p("logs", component + ".log")))
            raise Fail("timed out after %ds waiting for %s%s" % (timeout, what, extra))
        time.sleep(interval)


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


# The processes this run started, by (bed directory, component): their exit is known from the handle itself,
# with no pid file or /proc read that could race the process's own start.
STARTED = {}


def exit_code(bed, component):
    """None while the bed's COMPONENT runs; else how it ended ("exit status N", "signal N" or "not running")."""
    proc = STARTED.get((bed.dir, component))
    if proc is None:
        return None if bed.pid(component) else "not running"
    rc = proc.poll()
    if rc is None:
        return None
    return "signal %d" % -rc if rc < 0 else "exit status %d" % rc


def start(bed, component, argv, env=None):
    logf = open(bed.p("logs", component + ".log"), "ab")
    logf.write(("\n==== %s testbed.py starts %s\n" % (datetime.datetime.now().isoformat(timespec="seconds"),
                                                      " ".join(argv))).encode())
    logf.flush()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                            cwd=bed.dir, env=env, start_new_session=True, close_fds=True)
    logf.close()
    STARTED[(bed.dir, component)] = proc
    write_file(bed.pid_file(component), "%d\n" % proc.pid)
    return proc.pid


def strays(bed, component):
    """Pids of this bed's COMPONENT processes that its pid file does not name (found by command line)."""
    known, marker, found = bed.pid(component), bed.marker(component), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (known, os.getpid()) \
                and cmdline_matches(int(entry), marker, settle=False):
            found.append(int(entry))
    return found


def stop(bed, component):
    """SIGTERM the bed's COMPONENT (its pid file's, and any stray found by command line), wait, SIGKILL.
    True if one ran."""
    known, stray = bed.pid(component), strays(bed, component)
    if stray:
        log("%s: also stopping %s, not named by %s"
            % (component, ", ".join("pid %d" % p for p in stray), bed.pid_file(component)))
    for pid in ([known] if known else []) + stray:
        terminate(pid, component, bed.marker(component))
    try:
        os.unlink(bed.pid_file(component))
    except OSError:
        pass
    return bool(known or stray)


def terminate(pid, component, marker):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + STOP_GRACE.get(component, 15)
    while time.time() < deadline and cmdline_matches(pid, marker):
        time.sleep(0.1)
    if cmdline_matches(pid, marker):
        log("%s (pid %d) did not stop after SIGTERM: SIGKILL" % (component, pid))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.time() + 10
        while time.time() < deadline and cmdline_matches(pid, marker):
            time.sleep(0.1)
