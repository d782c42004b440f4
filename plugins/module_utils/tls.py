# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS material from a Kubernetes Secret in cert-manager's shape, checked before anything is written.

The brokers read their key and certificates from the Secret mounted as files, with Kafka's PEM support
(``ssl.keystore.type=PEM``): ``tls-combined.pem`` is the key store (the private key, then the certificate chain:
what cert-manager writes with ``additionalOutputFormats: [{type: CombinedPEM}]``) and ``ca.crt`` the trust store.
``tls.crt`` is the certificate clients are shown.

:func:`summarize_secret` runs where the Secret is read (plugins/modules/cluster_read.py) and returns facts only:
names, dates, fingerprints, whether the key matches. No key and no certificate text ever leaves it, so nothing
secret reaches a task result, a log or the plan. :func:`secret_errors` judges those facts against the names the
plan advertises, at a given time (an injected clock).

With ``kafka_broker_tls_generate`` the collection makes that Secret itself, signed by a CA of its own kept in a
second Secret (``<name>-ca``): :func:`summarize_ca_secret` gives the facts about that one, and
:func:`generation_plan` decides, from both summaries, the names, a clock and a renewal window, whether to create the
CA, and whether to issue, re-issue or keep the certificate, or to refuse (a Secret the collection did not create is
never overwritten, a CA it cannot use never replaced).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import datetime
import hashlib
import ipaddress
import re

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - reported by the module that needs it
    HAS_CRYPTOGRAPHY = False

# Where the brokers mount the Secret, and the files Kafka reads there.
MOUNT_PATH = "/etc/kafka/tls"
CERTIFICATE_KEY = "tls.crt"
CA_KEY = "ca.crt"
KEYSTORE_KEY = "tls-combined.pem"
REQUIRED_KEYS = (CERTIFICATE_KEY, CA_KEY, KEYSTORE_KEY)
# Kafka's PEM key store reads PKCS#8 keys only ("BEGIN PRIVATE KEY"); an encrypted one needs ssl.key.password.
KEY_FORMATS = {
    "PRIVATE KEY": "pkcs8",
    "ENCRYPTED PRIVATE KEY": "pkcs8-encrypted",
    "RSA PRIVATE KEY": "pkcs1",
    "EC PRIVATE KEY": "sec1",
}
PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)
# A certificate this close to its end is said (a warning): renewal should have happened already.
EXPIRY_WARNING = datetime.timedelta(days=14)
FIX_SHAPE = ("create it as cert-manager does: a Certificate with secretName set to it, privateKey.encoding PKCS8 and "
             "additionalOutputFormats [{type: CombinedPEM}] (or a Secret with tls.crt, ca.crt and tls-combined.pem: "
             "the PKCS#8 key followed by the certificate chain)")


# What marks a Secret as made by the collection (kafka_broker_tls_generate): this annotation, with the value saying
# which of the two it is. A Secret without it is the user's, and is never written.
GENERATED_ANNOTATION = "kafka-eks.cluster/generated"
GENERATED_CERTIFICATE = "broker-certificate"
GENERATED_CA = "certificate-authority"
# The CA Secret: kafka_broker_tls_secret with this suffix; tls.crt and tls.key (kubernetes.io/tls).
CA_SUFFIX = "-ca"
CA_SECRET_KEYS = ("tls.crt", "tls.key")


def ca_secret_name(secret_name):
    """The name of the Secret holding the collection's CA for the TLS Secret ``secret_name``."""
    return "%s%s" % (secret_name, CA_SUFFIX)


def _generated(secret):
    """The collection's mark on a Secret (GENERATED_ANNOTATION's value), or None."""
    annotations = ((secret or {}).get("metadata") or {}).get("annotations") or {}
    return annotations.get(GENERATED_ANNOTATION)


def _blocks(text):
    """(label, DER bytes) of each PEM block of ``text``; a block whose base64 does not decode is (label, None)."""
    out = []
    for label, body in PEM_BLOCK.findall(text or ""):
        try:
            out.append((label, base64.b64decode("".join(body.split()), validate=True)))
        except (binascii.Error, ValueError):
            out.append((label, None))
    return out


def _decode(secret, key):
    """The text of one key of the Secret's data (base64 in the API), or None when absent or not text."""
    data = (secret or {}).get("data") or {}
    if key not in data:
        return None
    try:
        return base64.b64decode(data[key]).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _certificates(text):
    certs = []
    for label, der in _blocks(text):
        if label != "CERTIFICATE":
            continue
        if der is None:
            raise ValueError("a CERTIFICATE block is not valid base64")
        certs.append(x509.load_der_x509_certificate(der))
    return certs


def _fingerprint(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _public_key(obj):
    return obj.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _utc(cert, attribute):
    value = getattr(cert, attribute + "_utc", None)
    if value is None:  # cryptography before 42
        value = getattr(cert, attribute).replace(tzinfo=datetime.timezone.utc)
    return value.isoformat()


def _issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # pylint: disable=broad-except
        return False


def _sans(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return ([str(n).lower() for n in ext.get_values_for_type(x509.DNSName)],
            [str(a) for a in ext.get_values_for_type(x509.IPAddress)])


def _read_certificates(texts, key, problems):
    """The certificates of one key of the Secret ([] when absent); what is wrong with them goes to ``problems``."""
    if not texts[key]:
        return []
    try:
        certs = _certificates(texts[key])
    except ValueError as exc:
        problems.append("%s does not hold PEM certificates (%s)" % (key, exc))
        return []
    if not certs:
        problems.append("%s holds no PEM certificate" % key)
    return certs


def summarize_secret(secret):
    """Facts about a TLS Secret, never its key or certificate text. ``secret`` is the API object or None."""
    summary = {"found": secret is not None, "missing_keys": [], "problems": [], "certificate": None,
               "keystore": None, "ca": None, "fingerprint": None, "generated": _generated(secret)}
    if secret is None:
        return summary
    texts = dict((k, _decode(secret, k)) for k in REQUIRED_KEYS)
    summary["missing_keys"] = [k for k in REQUIRED_KEYS if not texts[k]]
    problems = summary["problems"]
    chain = _read_certificates(texts, CERTIFICATE_KEY, problems)
    if chain:
        leaf = chain[0]
        dns, ips = _sans(leaf)
        summary["certificate"] = {
            "subject": leaf.subject.rfc4514_string(),
            "dns_names": dns,
            "ip_addresses": ips,
            "not_before": _utc(leaf, "not_valid_before"),
            "not_after": _utc(leaf, "not_valid_after"),
            "sha256": _fingerprint(leaf),
            "chain_length": len(chain),
            # Each certificate of the chain signed by the next one.
            "chain_ordered": all(_issued_by(chain[i], chain[i + 1]) for i in range(len(chain) - 1)),
        }
    cas = _read_certificates(texts, CA_KEY, problems)
    if cas:
        top = chain[-1] if chain else None
        summary["ca"] = {
            "count": len(cas),
            "sha256": [_fingerprint(c) for c in cas],
            # The trust store must let one broker trust another: the chain ends at (or under) one of these.
            "trusts_certificate": bool(top is not None and any(
                _fingerprint(c) == _fingerprint(top) or _issued_by(top, c) for c in cas)),
        }
    if texts[KEYSTORE_KEY]:
        blocks = _blocks(texts[KEYSTORE_KEY])
        keys = [(label, der) for label, der in blocks if label.endswith("PRIVATE KEY")]
        store = {"key_format": None, "key_matches_certificate": False, "certificate_matches": False}
        if len(keys) != 1:
            problems.append("%s holds %d private keys; Kafka's PEM key store needs exactly one"
                            % (KEYSTORE_KEY, len(keys)))
        else:
            label, der = keys[0]
            store["key_format"] = KEY_FORMATS.get(label, label.lower())
            if store["key_format"] == "pkcs8" and der is not None:
                try:
                    key = serialization.load_der_private_key(der, password=None)
                    store["key_matches_certificate"] = bool(chain) and _public_key(key) == _public_key(chain[0])
                except (ValueError, TypeError):
                    problems.append("%s: its private key does not load" % KEYSTORE_KEY)
        stored = _read_certificates(texts, KEYSTORE_KEY, problems)
        store["certificate_matches"] = bool(stored) and bool(chain) and _fingerprint(stored[0]) == _fingerprint(chain[0])
        summary["keystore"] = store
    if chain:
        digest = hashlib.sha256()
        for cert in chain + cas:
            digest.update(cert.public_bytes(serialization.Encoding.DER))
        # Changes when the certificate is renewed or the CA changes: the brokers' pod template carries it, so a
        # renewal rolls them one at a time.
        summary["fingerprint"] = digest.hexdigest()[:32]
    return summary


def _is_ip(name):
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def name_covered(name, dns_names, ip_addresses):
    """Whether a certificate with these SANs is valid for ``name`` (RFC 6125: a wildcard is the whole leftmost
    label and matches exactly one label)."""
    if _is_ip(name):
        return any(ipaddress.ip_address(name) == ipaddress.ip_address(a) for a in ip_addresses)
    name = name.lower().rstrip(".")
    for pattern in dns_names:
        pattern = pattern.lower().rstrip(".")
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name:
            first, rest = name.split(".", 1)
            if first and rest == pattern[2:]:
                return True
    return False


def secret_errors(summary, secret_name, namespace, names, now, variable="kafka_broker_tls_secret"):
    """(errors, warnings) about the Secret's facts for a cluster advertising ``names``, at ``now`` (aware UTC)."""
    where = "Secret %s in namespace %s (%s)" % (secret_name, namespace, variable)
    if not summary.get("found"):
        return (["%s does not exist: the brokers would never start. Create the namespace and the Secret first; %s."
                 % (where, FIX_SHAPE)], [])
    errors = []
    if summary["missing_keys"]:
        errors.append("%s has no %s: %s." % (where, " and no ".join(summary["missing_keys"]), FIX_SHAPE))
    errors += ["%s: %s." % (where, p) for p in summary["problems"]]
    cert = summary.get("certificate")
    if cert:
        not_before = datetime.datetime.fromisoformat(cert["not_before"])
        not_after = datetime.datetime.fromisoformat(cert["not_after"])
        if now >= not_after:
            errors.append("%s: its certificate (%s) expired at %s; renew it (cert-manager: check the Certificate's "
                          "status) before the brokers use it." % (where, cert["subject"], cert["not_after"]))
        elif now < not_before:
            errors.append("%s: its certificate (%s) is not valid before %s; check the clock of its issuer."
                          % (where, cert["subject"], cert["not_before"]))
        missing = [n for n in names if not name_covered(n, cert["dns_names"], cert["ip_addresses"])]
        if missing:
            errors.append("%s: its certificate's subject alternative names (%s) do not cover %s, which the brokers "
                          "advertise: clients verifying the host name would refuse them. Add them to the "
                          "Certificate's dnsNames (ipAddresses for addresses)."
                          % (where, ", ".join(cert["dns_names"] + cert["ip_addresses"]) or "none", ", ".join(missing)))
        if not cert["chain_ordered"]:
            errors.append("%s: %s is not a chain in order (each certificate signed by the next)." % (where, CERTIFICATE_KEY))
    ca = summary.get("ca")
    if cert and ca and not ca["trusts_certificate"]:
        errors.append("%s: %s does not trust %s (no CA certificate there issued it): the brokers would refuse each "
                      "other. Put the issuing CA's certificate in %s." % (where, CA_KEY, CERTIFICATE_KEY, CA_KEY))
    store = summary.get("keystore")
    if store and store["key_format"] and store["key_format"] != "pkcs8":
        errors.append("%s: the private key in %s is %s; Kafka's PEM key store reads unencrypted PKCS#8 keys only "
                      "(BEGIN PRIVATE KEY). Set privateKey.encoding: PKCS8 on the Certificate."
                      % (where, KEYSTORE_KEY, store["key_format"]))
    elif store and store["key_format"] == "pkcs8" and cert and not store["key_matches_certificate"]:
        errors.append("%s: the private key in %s is not the key of the certificate in %s."
                      % (where, KEYSTORE_KEY, CERTIFICATE_KEY))
    if store and cert and not store["certificate_matches"]:
        errors.append("%s: %s does not hold the certificate of %s after its key (a stale CombinedPEM?)."
                      % (where, KEYSTORE_KEY, CERTIFICATE_KEY))
    warnings = []
    if cert and not errors:
        left = datetime.datetime.fromisoformat(cert["not_after"]) - now
        if left < EXPIRY_WARNING:
            warnings.append("%s: its certificate expires at %s (in %d days); a renewed certificate rolls the brokers "
                            "one at a time on the next run." % (where, cert["not_after"], left.days))
    return errors, warnings


def summarize_ca_secret(secret):
    """Facts about the collection's CA Secret (tls.crt, tls.key), never its key or certificate text."""
    summary = {"found": secret is not None, "generated": _generated(secret), "missing_keys": [], "problems": [],
               "sha256": None, "subject": None, "is_ca": False, "key_matches": False, "not_before": None,
               "not_after": None}
    if secret is None:
        return summary
    texts = dict((k, _decode(secret, k)) for k in CA_SECRET_KEYS)
    summary["missing_keys"] = [k for k in CA_SECRET_KEYS if not texts[k]]
    certs = _read_certificates(texts, "tls.crt", summary["problems"])
    if certs:
        cert = certs[0]
        try:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            summary["is_ca"] = bool(constraints.ca)
        except x509.ExtensionNotFound:
            summary["is_ca"] = False
        summary.update(sha256=_fingerprint(cert), subject=cert.subject.rfc4514_string(),
                       not_before=_utc(cert, "not_valid_before"), not_after=_utc(cert, "not_valid_after"))
    keys = [(label, der) for label, der in _blocks(texts["tls.key"]) if label.endswith("PRIVATE KEY")]
    if texts["tls.key"] and len(keys) != 1:
        summary["problems"].append("tls.key holds %d private keys, not one" % len(keys))
    elif keys and certs:
        label, der = keys[0]
        if label != "PRIVATE KEY" or der is None:
            summary["problems"].append("tls.key is not an unencrypted PKCS#8 key")
        else:
            try:
                key = serialization.load_der_private_key(der, password=None)
                summary["key_matches"] = _public_key(key) == _public_key(certs[0])
            except (ValueError, TypeError):
                summary["problems"].append("tls.key does not load")
    return summary


def _secret_ca_fix(ca_name):
    return ("restore Secret %s from a backup, or delete both Secrets (%s and the TLS Secret) to let the collection "
            "start a new CA (every client must then trust the new ca.crt)" % (ca_name, ca_name))


def generation_plan(summary, ca_summary, secret_name, namespace, names, now, renew_days):
    """What ``kafka_broker_tls_generate`` does, from the facts alone (no clock, no cluster: ``now`` is given).

    :param summary: :func:`summarize_secret` of the TLS Secret ``secret_name``.
    :param ca_summary: :func:`summarize_ca_secret` of its CA Secret (:func:`ca_secret_name`).
    :param names: every name the brokers advertise (the plan's ``tls.names``): the certificate's SANs, exactly.
    :param now: an aware UTC datetime.
    :param renew_days: a certificate with fewer days than this left is re-issued.
    :returns: ``{"ca": create|keep|None, "certificate": create|reissue|keep|None, "reasons": [...],
        "errors": [...]}``; with errors, ``ca`` and ``certificate`` are None and nothing may be written.
    """
    ca_name = ca_secret_name(secret_name)
    where = "Secret %s in namespace %s" % (secret_name, namespace)
    ca_where = "Secret %s in namespace %s (the CA of kafka_broker_tls_generate)" % (ca_name, namespace)
    errors, reasons = [], []
    ca_action = "create"
    if ca_summary.get("found"):
        ca_action = "keep"
        if ca_summary.get("generated") != GENERATED_CA:
            errors.append("kafka_broker_tls_generate: %s exists, and the collection did not create it (no annotation "
                          "%s: %s); it never writes a Secret it did not create. Fix: delete or rename that Secret, "
                          "or set kafka_broker_tls_secret to another name (the CA is its name followed by %s)."
                          % (ca_where, GENERATED_ANNOTATION, GENERATED_CA, CA_SUFFIX))
        else:
            problems = ["it has no %s" % k for k in ca_summary.get("missing_keys") or []]
            problems += list(ca_summary.get("problems") or [])
            if ca_summary.get("sha256") and not ca_summary.get("is_ca"):
                problems.append("its certificate is not a CA's")
            if ca_summary.get("sha256") and not ca_summary.get("key_matches") and not ca_summary.get("problems"):
                problems.append("its tls.key is not the key of its tls.crt")
            if ca_summary.get("not_after") and now >= datetime.datetime.fromisoformat(ca_summary["not_after"]):
                problems.append("its certificate expired at %s" % ca_summary["not_after"])
            if problems:
                errors.append("kafka_broker_tls_generate: %s cannot sign a certificate: %s. The collection never "
                              "replaces its CA (clients trust it). Fix: %s."
                              % (ca_where, "; ".join(problems), _secret_ca_fix(ca_name)))
    cert_action = "create"
    if summary.get("found"):
        cert_action = "keep"
        if summary.get("generated") != GENERATED_CERTIFICATE:
            errors.append("kafka_broker_tls_secret: %s exists, and the collection did not create it (no annotation "
                          "%s: %s), so kafka_broker_tls_generate will not overwrite it. Fix: set "
                          "kafka_broker_tls_generate=false to use it as it is (cert-manager's shape), or set "
                          "kafka_broker_tls_secret to a name no Secret has, or delete that Secret."
                          % (where, GENERATED_ANNOTATION, GENERATED_CERTIFICATE))
        else:
            cert = summary.get("certificate")
            store = summary.get("keystore") or {}
            if (summary.get("missing_keys") or summary.get("problems") or not cert
                    or not store.get("key_matches_certificate") or not store.get("certificate_matches")):
                reasons.append("its key does not match its certificate or a key of the Secret is missing")
            if cert:
                missing = [n for n in names if not name_covered(n, cert["dns_names"], cert["ip_addresses"])]
                if missing:
                    reasons.append("its certificate does not name %s" % ", ".join(missing))
                not_after = datetime.datetime.fromisoformat(cert["not_after"])
                if not_after - now < datetime.timedelta(days=renew_days):
                    reasons.append("its certificate expires at %s, within kafka_broker_tls_renew_days (%d)"
                                   % (cert["not_after"], renew_days))
            ca = summary.get("ca") or {}
            if ca_action == "create":
                reasons.append("the CA Secret %s is not there: a new CA signs it" % ca_name)
            elif not ca.get("trusts_certificate") or ca.get("sha256") != [ca_summary.get("sha256")]:
                reasons.append("it is not signed by the CA of Secret %s alone" % ca_name)
            if reasons:
                cert_action = "reissue"
    if errors:
        return {"ca": None, "certificate": None, "reasons": [], "errors": errors}
    return {"ca": ca_action, "certificate": cert_action, "reasons": reasons, "errors": []}


def subject_alt_names(names):
    """The names as openssl_csr_pipe's subject_alt_name: DNS:name, IP:address, each once, in order."""
    out = []
    for name in names:
        entry = ("IP:%s" % name) if _is_ip(name) else ("DNS:%s" % name)
        if entry not in out:
            out.append(entry)
    return out
