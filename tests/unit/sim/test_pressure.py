"""Node pressure on the simulator: the kubelet's conditions on the Node objects (read through the
Kube driver, as the observer reads a real cluster's) and the load Talos reports, in the pressure
and large scenarios; and none on a healthy cluster."""

from talos_platform.engine.drivers.protocols import NODES

from .helpers import platform_for


def conditions(nodes, name):
    node = next(n for n in nodes if n["metadata"]["name"] == name)
    return {c["type"]: (c["status"], c["reason"]) for c in node["status"]["conditions"]}


async def test_the_pressure_scenario_sets_kubelet_conditions_and_load_on_its_workers():
    platform = platform_for("pressure", installed=True)
    await platform.clock.sleep(1)
    nodes = (await platform.drivers.kube.list(NODES)).items
    assert conditions(nodes, "worker-2")["MemoryPressure"] == ("True", "KubeletHasInsufficientMemory")
    assert conditions(nodes, "worker-3")["DiskPressure"] == ("True", "KubeletHasDiskPressure")
    assert conditions(nodes, "worker-1")["MemoryPressure"][0] == "False"  # hot CPU is no kubelet condition
    assert all(conditions(nodes, n)["Ready"][0] == "True" for n in ("worker-1", "worker-2", "worker-3"))
    taints = {t["key"] for n in nodes if n["metadata"]["name"] == "worker-2" for t in n["spec"]["taints"]}
    assert "node.kubernetes.io/memory-pressure" in taints
    worker = {m.name: m for m in platform.model.machines.values()}
    cpu, _ = platform.model.hubble.node_load(worker["worker-1"])
    _, memory = platform.model.hubble.node_load(worker["worker-2"])
    assert cpu >= 97 and memory >= 97
    platform.close()


async def test_a_healthy_cluster_and_most_of_a_large_one_are_under_no_pressure():
    for scenario, hot in (("default", set()), ("large", {"worker-17", "worker-42", "worker-88"})):
        platform = platform_for(scenario, installed=True)
        await platform.clock.sleep(1)
        nodes = (await platform.drivers.kube.list(NODES)).items
        pressed = {
            n["metadata"]["name"]
            for n in nodes
            if any(c["type"].endswith("Pressure") and c["status"] == "True" for c in n["status"]["conditions"])
        }
        assert pressed <= hot and (not hot or pressed == {"worker-17", "worker-88"})
        loads = [platform.model.hubble.node_load(m) for m in platform.model.machines.values() if m.name not in hot]
        assert max(max(cpu, memory) for cpu, memory in loads) < 80  # the dashboard's "high" threshold
        platform.close()
