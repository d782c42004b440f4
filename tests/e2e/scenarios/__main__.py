"""Runs one step of a scenario's story, as molecule's side_effect and verify playbooks do (from tests/e2e):

    python -m scenarios side_effect|verify NAME --testbed BED --state FILE [--second-testbed BED] [--namespace NS]

NAME is the molecule scenario (molecule/NAME/molecule.yml); its story is the module scenarios.NAME.
"""
import argparse
import importlib
import os
import pkgutil

import scenarios
from lib import Cluster


def names():
    """The scenario modules of the package (modules whose names start with ``_`` are not scenarios)."""
    return sorted(m.name for m in pkgutil.iter_modules([os.path.dirname(scenarios.__file__)])
                  if not m.name.startswith("_"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scenarios", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["side_effect", "verify"])
    parser.add_argument("scenario", choices=names())
    parser.add_argument("--testbed", required=True)
    parser.add_argument("--namespace", default="kafka")
    parser.add_argument("--state", required=True, help="the state file side_effect writes and verify reads")
    parser.add_argument("--second-testbed", help="multi_cluster's side_effect: the cluster that must stay untouched")
    args = parser.parse_args(argv)
    story = importlib.import_module("scenarios." + args.scenario)
    cluster = Cluster(args.testbed, args.namespace)
    if args.step == "side_effect":
        extra = (Cluster(args.second_testbed, args.namespace),) if args.second_testbed else ()
        story.side_effect(cluster, args.state, *extra)
    else:
        story.verify(cluster, args.state)
        print("verify %s: ok" % args.scenario)


if __name__ == "__main__":
    main()
