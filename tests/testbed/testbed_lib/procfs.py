"""What /proc says: whether a pid is a given program (its command line), and who listens on which TCP port."""
import ipaddress
import time


def cmdline_matches(pid, needles, settle=True):
    """True when pid lives and each needle is one of its arguments, or a directory that one of them is under."""
    for _ in range(50 if settle else 1):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                raw = f.read()
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        if state == "Z":
            return False
        if raw:
            break
        # Empty while the kernel is still inside execve: Popen returns once the close-on-exec pipe closes,
        # which is before the new program's arguments are in place. Seen under load; read again.
        time.sleep(0.02)
    cmd = raw.decode(errors="replace").split("\0")
    return all(any(a == n or a.startswith(n.rstrip("/") + "/") for a in cmd) for n in needles)


def listening(ports=(), net=None):
    """(address, port) of the TCP listeners on ports, or inside the IPv4 network net."""
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            addr_hex, port_hex = fields[1].split(":")
            port = int(port_hex, 16)
            if len(addr_hex) == 8:
                addr = ipaddress.IPv4Address(bytes(reversed(bytes.fromhex(addr_hex))))
            else:
                raw = bytes.fromhex(addr_hex)
                addr = ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
                if addr.ipv4_mapped:
                    addr = addr.ipv4_mapped
            if port in ports and (addr.is_unspecified or addr.is_loopback):
                found.append((str(addr), port))
            elif net is not None and isinstance(addr, ipaddress.IPv4Address) and addr in net:
                found.append((str(addr), port))
    return found
