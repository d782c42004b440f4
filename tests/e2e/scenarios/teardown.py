"""Scenario teardown (molecule/teardown): workloads removed, claims kept, the redeploy finds the old messages;
kafka_teardown_delete_data=true removes the claims.
"""
from scenarios import load, run_playbook, run_site, save, snapshot, write_messages


def side_effect(cluster, state_file):
    state = {"before": snapshot(cluster), "messages": write_messages(cluster, "e2e-teardown")}
    state["teardown_rc"] = run_playbook(cluster, "playbooks/teardown.yml").returncode
    state["after_teardown"] = {kind: [o["metadata"]["name"] for o in cluster.get(kind)]
                               for kind in ("deployments", "statefulsets", "services", "pods", "pvc", "configmaps")}
    state["site_rc"] = run_site(cluster).returncode
    state["after_site"] = snapshot(cluster)
    state["received"] = cluster.consume("e2e-teardown", len(state["messages"]))
    state["teardown_data_rc"] = run_playbook(cluster, "playbooks/teardown.yml", "-e",
                                             "kafka_teardown_delete_data=true").returncode
    state["after_teardown_data"] = {kind: [o["metadata"]["name"] for o in cluster.get(kind)]
                                    for kind in ("deployments", "statefulsets", "pvc")}
    save(state, state_file)


def verify(cluster, state_file):
    state = load(state_file)
    assert state["teardown_rc"] == 0
    gone = state["after_teardown"]
    assert gone["deployments"] == [] and gone["statefulsets"] == [] and gone["configmaps"] in ([], ["kube-root-ca.crt"])
    assert gone["services"] == [], gone["services"]
    assert sorted(gone["pvc"]) == sorted(state["before"]["pvcs"]), "claims were deleted without being asked"
    assert state["site_rc"] == 0
    assert sorted(state["received"]) == sorted(state["messages"]), "data did not survive the teardown"
    assert state["after_site"]["pvcs"] == state["before"]["pvcs"], "the redeploy did not reuse the same claims"
    assert state["teardown_data_rc"] == 0, "teardown with kafka_teardown_delete_data=true failed"
    assert state["after_teardown_data"]["pvc"] == [], "claims left: %s" % state["after_teardown_data"]["pvc"]
    print("teardown: workloads removed, claims kept, redeploy found %d messages; delete_data removed the claims"
          % len(state["received"]))
