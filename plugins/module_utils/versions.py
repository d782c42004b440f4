"""Which Apache Kafka and ZooKeeper version an image runs, from its reference alone (pure).

Images name a product version in their tag: ``apache/kafka:3.9.1`` and ``zookeeper:3.9.3`` directly,
Confluent's ``cp-kafka``/``cp-server`` by the Confluent Platform release, whose major.minor maps to one Apache
Kafka line (Confluent's "Supported Versions and Interoperability" table: CP 5.5 is Kafka 2.5, 7.9 is 3.9, 8.0
is 4.0), and ``registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10`` after the image's own version. A mirror keeps
the repository's last path segment and the tag (``<account>.dkr.ecr.<region>.amazonaws.com/confluentinc/
cp-kafka:7.9.1``), so it is read the same way. What cannot be read returns None: the caller asks the user.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Confluent Platform major.minor -> Apache Kafka major.minor.
CONFLUENT_TO_KAFKA = {
    (4, 0): (1, 0), (4, 1): (1, 1),
    (5, 0): (2, 0), (5, 1): (2, 1), (5, 2): (2, 2), (5, 3): (2, 3), (5, 4): (2, 4), (5, 5): (2, 5),
    (6, 0): (2, 6), (6, 1): (2, 7), (6, 2): (2, 8),
    (7, 0): (3, 0), (7, 1): (3, 1), (7, 2): (3, 2), (7, 3): (3, 3), (7, 4): (3, 4), (7, 5): (3, 5),
    (7, 6): (3, 6), (7, 7): (3, 7), (7, 8): (3, 8), (7, 9): (3, 9),
    (8, 0): (4, 0), (8, 1): (4, 1),
}
# The Apache Kafka patch a cp-kafka 7.9.x release carries, where it matters (a ZooKeeper-to-KRaft migration
# needs 3.9.1): (first Confluent release, Apache release) in order; docs/architecture.md, "Which Kafka a
# cp-kafka 7.9.x runs", has the evidence.
CONFLUENT_KAFKA_PATCHES = {
    (7, 9): (((7, 9, 0), (3, 9, 0)), ((7, 9, 2), (3, 9, 1)), ((7, 9, 6), (3, 9, 2))),
}
CONFLUENT_KAFKA_REPOSITORIES = ("cp-kafka", "cp-server")
APACHE_KAFKA_REPOSITORIES = ("kafka",)
ZOOKEEPER_REPOSITORIES = ("zookeeper",)
KUBERNETES_ZOOKEEPER_REPOSITORIES = ("kubernetes-zookeeper",)

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
# kubernetes-zookeeper:1.0-3.4.10: the image's own version, then ZooKeeper's.
_KUBERNETES_ZOOKEEPER_TAG = re.compile(r"\A\d+\.\d+-(\d+\.\d+(?:\.\d+)?)\Z")
# A release tag: 3.9.1, 7.9.1, 7.9.1-1-ubi8, v3.9.1; not latest or a date.
_RELEASE_TAG = re.compile(r"\Av?(\d+\.\d+(?:\.\d+)?)(?:[-+._][0-9A-Za-z.-]*)?\Z")


def parse_version(text):
    """(major, minor, patch or None) from '3.9', '3.9.1', '3.4.10-39d3a4f...'; None when there is none."""
    if not isinstance(text, str):
        return None
    match = _VERSION.match(text.strip())
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)) if match.group(3) else None)


def format_version(version, parts=3):
    """'3.9.1', or '3.9' with parts=2 (a protocol version); a missing patch is left out."""
    if version is None:
        return None
    numbers = [str(v) for v in version[:parts] if v is not None]
    return ".".join(numbers)


def major_minor(version):
    """(major, minor): what inter.broker.protocol.version names."""
    return None if version is None else (version[0], version[1])


def _repository_and_tag(image):
    """('cp-kafka', '7.9.1') from any reference with a tag; (name, None) without one."""
    reference = (image or "").split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = last.split(":", 1)
        return name, tag
    return last, None


def kafka_version(image):
    """The Apache Kafka version (major, minor, patch or None) the broker image runs; None when unknown.

    A Confluent tag gives the Kafka line only (patch None): CP 7.9.1 is Kafka 3.9, its patch level is
    Confluent's, not Kafka's (which Apache patch each 7.9.x carries, from confluentinc/kafka's history:
    docs/architecture.md, "Which Kafka a cp-kafka 7.9.x runs")."""
    name, tag = _repository_and_tag(image)
    match = _RELEASE_TAG.match(tag or "")
    if not match:
        return None
    version = parse_version(match.group(1))
    if name in CONFLUENT_KAFKA_REPOSITORIES:
        line = CONFLUENT_TO_KAFKA.get(major_minor(version))
        return None if line is None else (line[0], line[1], None)
    if name in APACHE_KAFKA_REPOSITORIES:
        return version
    return None


def kafka_release(image):
    """The Apache Kafka version with its patch where it is known: an apache/kafka tag, or a Confluent release
    in CONFLUENT_KAFKA_PATCHES; otherwise as ``kafka_version`` (patch None)."""
    version = kafka_version(image)
    name, tag = _repository_and_tag(image)
    if version is None or name not in CONFLUENT_KAFKA_REPOSITORIES:
        return version
    confluent = parse_version(_RELEASE_TAG.match(tag).group(1))
    found = None
    for first, release in CONFLUENT_KAFKA_PATCHES.get(major_minor(confluent), ()):
        if confluent[2] is not None and confluent >= first:
            found = release
    return found or version


def zookeeper_version(image):
    """The ZooKeeper version (major, minor, patch or None) the server image runs; None when unknown."""
    name, tag = _repository_and_tag(image)
    if name in KUBERNETES_ZOOKEEPER_REPOSITORIES:
        match = _KUBERNETES_ZOOKEEPER_TAG.match(tag or "")
        return parse_version(match.group(1)) if match else None
    if name in ZOOKEEPER_REPOSITORIES:
        match = _RELEASE_TAG.match(tag or "")
        return parse_version(match.group(1)) if match else None
    return None


def at_least(version, minimum):
    """version >= minimum, comparing the parts both name (a missing patch counts as 0)."""
    return tuple(v or 0 for v in version) >= tuple(m or 0 for m in minimum)
