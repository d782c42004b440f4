"""kafka_broker_tls_generate's decision (tls.generation_plan): create, keep, re-issue or refuse, from the facts about
the two Secrets alone, with real certificates (testbed_lib/tls_material.py) and an injected clock. Every branch:
nothing there, a good pair kept, a foreign Secret or CA refused, a CA it cannot sign with refused, a certificate
expiring within the window, missing a name, signed by another CA or with another key re-issued."""
import datetime
import json

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils.tls import (
    GENERATED_ANNOTATION,
    GENERATED_CA,
    GENERATED_CERTIFICATE,
    ca_secret_name,
    generation_plan,
    secret_errors,
    subject_alt_names,
    summarize_ca_secret,
    summarize_secret,
)
from testbed_lib.tls_material import (NOW, Authority, broker_names, ca_secret_data, key_pem, new_key, secret,
                                      secret_data)

NAMES = broker_names(3)
OURS = {GENERATED_ANNOTATION: GENERATED_CERTIFICATE}
OUR_CA = {GENERATED_ANNOTATION: GENERATED_CA}
RENEW_DAYS = 30


@pytest.fixture(scope="module")
def ca():
    return Authority(common_name="kafka_eks.cluster CA kafka")


@pytest.fixture(scope="module")
def issued(ca):
    """A certificate the collection would have issued: every name, 365 days from an hour ago."""
    return ca.issue(dns_names=NAMES, days=365)


def cert_secret(cert, key, authority, annotations="ours", **kwargs):
    """The brokers' Secret; annotations "ours" (the collection's mark), None or others."""
    return secret("kafka-tls", "kafka", secret_data(cert, key, authority, **kwargs),
                  OURS if annotations == "ours" else annotations)


def ca_secret(authority, annotations="ours", data=None):
    return secret("kafka-tls-ca", "kafka", data if data is not None else ca_secret_data(authority),
                  OUR_CA if annotations == "ours" else annotations)


def decide(tls_secret, ca_obj, names=NAMES, now=NOW, renew_days=RENEW_DAYS):
    return generation_plan(summarize_secret(tls_secret), summarize_ca_secret(ca_obj), "kafka-tls", "kafka", names,
                           now, renew_days)


def test_nothing_there_creates_the_ca_and_the_certificate():
    assert decide(None, None) == {"ca": "create", "certificate": "create", "reasons": [], "errors": []}


def test_the_pair_the_collection_made_is_kept_and_passes_the_preflight_s_checks(ca, issued):
    tls_secret = cert_secret(issued[0], issued[1], ca)
    assert decide(tls_secret, ca_secret(ca)) == {"ca": "keep", "certificate": "keep", "reasons": [], "errors": []}
    assert secret_errors(summarize_secret(tls_secret), "kafka-tls", "kafka", NAMES, NOW) == ([], [])


def test_a_tls_secret_the_collection_did_not_make_is_refused_never_overwritten(ca, issued):
    # cert-manager's own Secret: perfectly good, but not ours (no annotation).
    decision = decide(cert_secret(issued[0], issued[1], ca, annotations=None), ca_secret(ca))
    assert decision["ca"] is None and decision["certificate"] is None and decision["reasons"] == []
    (error,) = decision["errors"]
    assert error.startswith("kafka_broker_tls_secret: Secret kafka-tls in namespace kafka exists, and the collection "
                            "did not create it")
    assert "kafka_broker_tls_generate=false" in error and "Fix:" in error
    # Another annotation value (our CA's mark on the brokers' Secret) is not ours either.
    assert decide(cert_secret(issued[0], issued[1], ca, annotations=OUR_CA), ca_secret(ca))["errors"]


def test_a_ca_secret_the_collection_did_not_make_is_refused_even_with_no_tls_secret(ca):
    decision = decide(None, ca_secret(ca, annotations=None))
    assert decision["certificate"] is None
    (error,) = decision["errors"]
    assert error.startswith("kafka_broker_tls_generate: Secret kafka-tls-ca in namespace kafka")
    assert "did not create it" in error and "Fix:" in error


@pytest.mark.parametrize("what", ["no key", "another key", "not a CA", "expired", "not PEM"])
def test_our_ca_that_cannot_sign_is_refused_not_replaced(ca, issued, what):
    other = new_key()
    if what == "no key":
        data = {"tls.crt": ca_secret_data(ca)["tls.crt"]}
    elif what == "another key":
        data = {"tls.crt": ca_secret_data(ca)["tls.crt"], "tls.key": key_pem(other)}
    elif what == "not a CA":
        leaf, key = ca.issue(dns_names=["x"])
        data = {"tls.crt": secret_data(leaf, key, ca)["tls.crt"], "tls.key": key_pem(key)}
    elif what == "expired":
        old = Authority(not_before=NOW - datetime.timedelta(days=20), days=10)
        data = ca_secret_data(old)
    else:
        data = {"tls.crt": "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n", "tls.key": "x"}
    decision = decide(cert_secret(issued[0], issued[1], ca), ca_secret(ca, data=data))
    assert decision["ca"] is None and decision["certificate"] is None
    (error,) = decision["errors"]
    assert "Secret kafka-tls-ca in namespace kafka" in error and "cannot sign" in error
    assert "never replaces its CA" in error and "Fix: restore Secret kafka-tls-ca" in error


def test_both_refusals_are_said_in_one_run(ca, issued):
    decision = decide(cert_secret(issued[0], issued[1], ca, annotations=None), ca_secret(ca, annotations=None))
    assert len(decision["errors"]) == 2


def test_a_certificate_within_the_renewal_window_is_reissued_and_one_just_outside_kept(ca, issued):
    tls_secret = cert_secret(issued[0], issued[1], ca)
    not_after = issued[0].not_valid_after_utc
    inside = not_after - datetime.timedelta(days=RENEW_DAYS) + datetime.timedelta(seconds=1)
    outside = not_after - datetime.timedelta(days=RENEW_DAYS) - datetime.timedelta(seconds=1)
    decision = decide(tls_secret, ca_secret(ca), now=inside)
    assert decision["certificate"] == "reissue" and decision["ca"] == "keep"
    assert decision["reasons"] == ["its certificate expires at %s, within kafka_broker_tls_renew_days (30)"
                                   % not_after.isoformat()]
    assert decide(tls_secret, ca_secret(ca), now=outside)["certificate"] == "keep"
    # Exactly the window left: kept (fewer than renew_days left re-issues).
    exact = not_after - datetime.timedelta(days=RENEW_DAYS)
    assert decide(tls_secret, ca_secret(ca), now=exact)["certificate"] == "keep"
    # An expired one too; and the window is the variable's.
    assert decide(tls_secret, ca_secret(ca), now=not_after)["certificate"] == "reissue"
    assert decide(tls_secret, ca_secret(ca), now=outside, renew_days=RENEW_DAYS + 1)["certificate"] == "reissue"


def test_a_missing_name_is_reissued_naming_it_and_an_extra_one_is_kept(ca, issued):
    tls_secret = cert_secret(issued[0], issued[1], ca)
    more = NAMES + ["kafka-service-3", "kafka-service-3.kafka.svc.cluster.local"]
    decision = decide(tls_secret, ca_secret(ca), names=more)
    assert decision["certificate"] == "reissue"
    assert decision["reasons"] == ["its certificate does not name kafka-service-3, "
                                   "kafka-service-3.kafka.svc.cluster.local"]
    # Fewer brokers: the certificate still names every one advertised (no roll for a scale-down).
    assert decide(tls_secret, ca_secret(ca), names=NAMES[:2])["certificate"] == "keep"
    # An address the brokers advertise outside (an ssl external listener) must be an IP SAN.
    assert "does not name 10.0.0.7" in decide(tls_secret, ca_secret(ca), names=NAMES + ["10.0.0.7"])["reasons"][0]


def test_a_certificate_of_another_ca_is_reissued(ca):
    other = Authority(common_name="someone else")
    cert, key = other.issue(dns_names=NAMES, days=365)
    # Its own CA in ca.crt: consistent, but not the collection's.
    decision = decide(cert_secret(cert, key, other), ca_secret(ca))
    assert decision["certificate"] == "reissue"
    assert decision["reasons"] == ["it is not signed by the CA of Secret kafka-tls-ca alone"]
    # Our CA in ca.crt, signed by another: the brokers would refuse each other.
    assert decide(cert_secret(cert, key, ca), ca_secret(ca))["certificate"] == "reissue"


def test_our_certificate_without_its_ca_secret_gets_a_new_ca_and_a_new_certificate(ca, issued):
    decision = decide(cert_secret(issued[0], issued[1], ca), None)
    assert decision["ca"] == "create" and decision["certificate"] == "reissue"
    assert decision["reasons"] == ["the CA Secret kafka-tls-ca is not there: a new CA signs it"]


@pytest.mark.parametrize("what", ["another key", "stale combined", "missing key", "sec1 key"])
def test_a_key_that_does_not_match_is_reissued(ca, issued, what):
    cert, key = issued
    if what == "another key":
        tls_secret = cert_secret(cert, new_key(), ca)
    elif what == "stale combined":
        renewed, dummy = ca.issue(dns_names=NAMES, days=365, key=key)
        tls_secret = cert_secret(renewed, key, ca, combined_cert=cert)
    elif what == "missing key":
        tls_secret = cert_secret(cert, key, ca)
        del tls_secret["data"]["tls-combined.pem"]
    else:
        tls_secret = cert_secret(cert, key, ca, key_format="sec1")
    decision = decide(tls_secret, ca_secret(ca))
    assert decision["certificate"] == "reissue" and decision["errors"] == []
    assert decision["reasons"] == ["its key does not match its certificate or a key of the Secret is missing"]


def test_the_ca_facts_hold_no_key_or_certificate_text(ca):
    obj = ca_secret(ca)
    summary = summarize_ca_secret(obj)
    assert summary["found"] and summary["generated"] == GENERATED_CA and summary["is_ca"] and summary["key_matches"]
    assert summary["missing_keys"] == [] and summary["problems"] == [] and len(summary["sha256"]) == 64
    text = json.dumps(summary)
    assert "BEGIN" not in text
    for value in obj["data"].values():
        assert value[20:60] not in text
    assert summarize_ca_secret(None) == {"found": False, "generated": None, "missing_keys": [], "problems": [],
                                         "sha256": None, "subject": None, "is_ca": False, "key_matches": False,
                                         "not_before": None, "not_after": None}


def test_the_names_become_dns_and_ip_sans_once_each_in_order():
    assert subject_alt_names(["kafka-service-0", "10.0.0.7", "kafka-service-0", "::1"]) == [
        "DNS:kafka-service-0", "IP:10.0.0.7", "IP:::1"]
    assert ca_secret_name("kafka-tls") == "kafka-tls-ca"
