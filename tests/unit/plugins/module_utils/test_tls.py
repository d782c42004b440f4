"""The TLS Secret's facts and their checks: real certificates (tests/unit/tls_material.py), every way a Secret
users make goes wrong, and never a byte of key material in what is returned."""
import base64
import datetime
import json

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils.tls import name_covered, secret_errors, summarize_secret
from testbed_lib.tls_material import NOW, Authority, broker_names, key_pem, new_key, secret, secret_data

NAMES = broker_names(3)


@pytest.fixture(scope="module")
def ca():
    return Authority()


@pytest.fixture(scope="module")
def good(ca):
    cert, key = ca.issue(dns_names=NAMES)
    return cert, key


def check(data, names=NAMES, now=NOW):
    return secret_errors(summarize_secret(secret("kafka-tls", "kafka", data)), "kafka-tls", "kafka", names, now)


def test_a_cert_manager_secret_with_every_name_passes_and_says_nothing(ca, good):
    errors, warnings = check(secret_data(good[0], good[1], ca))
    assert errors == [] and warnings == []


def test_the_summary_holds_facts_and_never_key_or_certificate_text(ca, good):
    data = secret_data(good[0], good[1], ca)
    summary = summarize_secret(secret("kafka-tls", "kafka", data))
    text = json.dumps(summary)
    assert "PRIVATE KEY" not in text and "BEGIN" not in text
    key_body = "".join(key_pem(good[1]).splitlines()[1:-1])
    for chunk in (key_body[i:i + 16] for i in range(0, len(key_body) - 16, 16)):
        assert chunk not in text
    assert summary["certificate"]["dns_names"] == NAMES
    assert summary["keystore"] == {"key_format": "pkcs8", "key_matches_certificate": True, "certificate_matches": True}
    assert summary["ca"]["trusts_certificate"] is True and len(summary["fingerprint"]) == 32


def test_a_missing_secret_names_it_the_variable_and_the_fix():
    errors = secret_errors(summarize_secret(None), "kafka-tls", "kafka", NAMES, NOW)[0]
    assert len(errors) == 1
    assert "Secret kafka-tls in namespace kafka (kafka_broker_tls_secret) does not exist" in errors[0]
    assert "CombinedPEM" in errors[0]


@pytest.mark.parametrize("missing", ["tls.crt", "ca.crt", "tls-combined.pem"])
def test_a_missing_key_is_named(ca, good, missing):
    data = secret_data(good[0], good[1], ca)
    del data[missing]
    errors = check(data)[0]
    assert any("has no %s" % missing in e for e in errors), errors


def test_a_name_the_brokers_advertise_missing_from_the_sans_is_named(ca):
    cert, key = ca.issue(dns_names=NAMES[:-1])
    errors = check(secret_data(cert, key, ca))[0]
    assert len(errors) == 1 and "do not cover %s" % NAMES[-1] in errors[0]


def test_a_wildcard_covers_one_label_and_not_the_short_name(ca):
    cert, key = ca.issue(dns_names=["*.kafka.svc.cluster.local"])
    errors = check(secret_data(cert, key, ca))[0]
    assert len(errors) == 1
    assert "do not cover kafka-service-0, kafka-service-1, kafka-service-2" in errors[0]
    assert name_covered("kafka-service-0.kafka.svc.cluster.local", ["*.kafka.svc.cluster.local"], [])
    assert not name_covered("a.kafka-service-0.kafka.svc.cluster.local", ["*.kafka.svc.cluster.local"], [])
    assert not name_covered("kafka.svc.cluster.local", ["*.kafka.svc.cluster.local"], [])
    assert name_covered("KAFKA-SERVICE-0", ["kafka-service-0"], [])


def test_an_address_needs_an_ip_san_not_a_dns_name(ca):
    cert, key = ca.issue(dns_names=NAMES + ["127.20.255.1"], ip_addresses=["127.20.255.2"])
    summary = summarize_secret(secret("t", "kafka", secret_data(cert, key, ca)))
    assert summary["certificate"]["ip_addresses"] == ["127.20.255.2"]
    errors = secret_errors(summary, "t", "kafka", NAMES + ["127.20.255.1", "127.20.255.2"], NOW)[0]
    assert len(errors) == 1 and "do not cover 127.20.255.1" in errors[0]


def test_an_expired_or_not_yet_valid_certificate_is_refused_and_one_near_its_end_is_said(ca):
    cert, key = ca.issue(dns_names=NAMES, not_before=NOW - datetime.timedelta(days=100), days=90)
    errors = check(secret_data(cert, key, ca))[0]
    assert len(errors) == 1 and "expired at" in errors[0]
    cert, key = ca.issue(dns_names=NAMES, not_before=NOW + datetime.timedelta(days=1))
    errors = check(secret_data(cert, key, ca))[0]
    assert len(errors) == 1 and "is not valid before" in errors[0]
    cert, key = ca.issue(dns_names=NAMES, not_before=NOW - datetime.timedelta(days=85), days=90)
    errors, warnings = check(secret_data(cert, key, ca))
    assert errors == [] and len(warnings) == 1 and "in 5 days" in warnings[0]


def test_a_key_kafka_cannot_read_is_refused_with_the_certificate_setting(ca, good):
    errors = check(secret_data(good[0], good[1], ca, key_format="sec1"))[0]
    assert len(errors) == 1 and "sec1" in errors[0] and "privateKey.encoding: PKCS8" in errors[0]


def test_a_key_that_is_not_the_certificates_is_refused(ca, good):
    data = secret_data(good[0], good[1], ca)
    data["tls-combined.pem"] = key_pem(new_key()) + data["tls.crt"]
    errors = check(data)[0]
    assert len(errors) == 1 and "is not the key of the certificate" in errors[0]


def test_a_stale_combined_pem_after_a_renewal_is_refused(ca, good):
    renewed = ca.issue(dns_names=NAMES, key=good[1])[0]
    errors = check(secret_data(renewed, good[1], ca, combined_cert=good[0]))[0]
    assert len(errors) == 1 and "stale CombinedPEM" in errors[0]


def test_a_ca_that_did_not_issue_the_certificate_is_refused(good):
    other = Authority("another CA")
    errors = check(secret_data(good[0], good[1], other))[0]
    assert len(errors) == 1 and "does not trust tls.crt" in errors[0]


def test_text_that_is_not_pem_is_a_problem_not_a_crash(ca, good):
    data = secret_data(good[0], good[1], ca)
    data["tls.crt"] = "-----BEGIN CERTIFICATE-----\n%%%not base64%%%\n-----END CERTIFICATE-----\n"
    errors = check(data)[0]
    assert any("tls.crt does not hold PEM certificates" in e for e in errors), errors
    data["tls.crt"] = "hello"
    errors = check(data)[0]
    assert any("tls.crt holds no PEM certificate" in e for e in errors), errors
    raw = secret("kafka-tls", "kafka", secret_data(good[0], good[1], ca))
    raw["data"]["ca.crt"] = base64.b64encode(b"\xff\xfe").decode()
    summary = summarize_secret(raw)
    assert "ca.crt" in summary["missing_keys"]


def test_the_fingerprint_changes_with_a_renewal_and_a_new_ca_only(ca, good):
    first = summarize_secret(secret("t", "kafka", secret_data(good[0], good[1], ca)))["fingerprint"]
    again = summarize_secret(secret("t", "kafka", secret_data(good[0], good[1], ca)))["fingerprint"]
    renewed, key = ca.issue(dns_names=NAMES)
    second = summarize_secret(secret("t", "kafka", secret_data(renewed, key, ca)))["fingerprint"]
    assert first == again and first != second
