"""The local test bed as a tool: bring a Kubernetes of real parts up and down, and read a running one.

One concern a module:

    bed          the layout: paths under .cache/, ports, addresses, a bed's state directory (Bed), Fail, log
    podnet       pod networking: a network namespace per pod on the bed's bridge (names from the pod's address)
    procfs       what /proc says: a process's command line, the TCP listeners
    pki          the bed's CA, serving and client certificates, service-account key pair
    kubeconfig   the bed's kubeconfigs and the merged .cache/testbeds/kubeconfig
    api          talking to the components: https GETs, kubectl, a CRD Established
    supervise    the components' processes: start (pid file, log), wait, stop by pid
    components   each component's command line and config, and the binaries they need
    nodes        the KWOK nodes: zones, manifests, applied and Ready
    up           `up`: the order of the start and its waits, testbed.json and env
    down         `down`: stop by pid, remove the pod network, check that nothing of it is left, remove the state
    cli          the command line of tests/testbed/testbed.py (up, down, status)
    client       a running bed as a user sees it (Cluster, srvr, wait_for, start/stop): bench/ and tests/e2e/lib.py
"""
