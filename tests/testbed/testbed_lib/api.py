"""Talking to the components: an https GET (the bed's CA, the admin's client certificate), kubectl, a CRD."""
import json
import ssl
import subprocess
import urllib.request

from testbed_lib.bed import KUBECTL, Fail


def https_get(bed, url, client_cert=True, timeout=3):
    ctx = ssl.create_default_context(cafile=bed.p("pki", "ca.crt"))
    if client_cert:
        ctx.load_cert_chain(bed.p("pki", "admin.crt"), bed.p("pki", "admin.key"))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the component's self-signed serving cert (only /healthz is read)
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as r:
        return r.status, r.read().decode(errors="replace")


def kubectl(bed, *args, stdin=None, check=True, timeout=60):
    r = subprocess.run([KUBECTL, "--kubeconfig", bed.kubeconfig] + list(args),
                       input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and r.returncode != 0:
        raise Fail("kubectl %s failed: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
    return r


def crd_established(bed, name):
    r = kubectl(bed, "get", "crd", name, "-o", "json", check=False)
    if r.returncode != 0:
        return False
    conditions = (json.loads(r.stdout).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
