"""The roles' defaults as one mapping, as the preflight gathers them: the starting configuration of the unit tests
that build a plan."""
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = ("preflight", "zookeeper", "kafka_broker")


def role_defaults():
    """Every role's defaults/main.yml merged, later roles winning on a shared name."""
    cfg = {}
    for role in ROLES:
        with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as handle:
            cfg.update(yaml.safe_load(handle))
    return cfg
