"""Checks on a rendered mpsv-idp Helm chart that a JSON schema cannot make (scripts/deploy-check).

    python3 scripts/chart-checks.py MANIFESTS.yaml [--expect-ingress] [--expect-secret]

Schema validity is kubernetes-validate's job; this checks that the objects fit together and
keep the promises of deploy/helm/mpsv-idp/values.yaml: selectors select the pods, named
ports exist, every Secret the pods read is rendered or named by the values, probes, security
context, hooks and the drain time.
"""

import argparse
import base64
import re
import sys

import yaml

errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifests")
    ap.add_argument("--expect-ingress", action="store_true")
    ap.add_argument("--expect-secret", action="store_true", help="the chart creates its Secret")
    ap.add_argument("--replicas", type=int, default=2)
    args = ap.parse_args()

    docs = [d for d in yaml.safe_load_all(open(args.manifests, encoding="utf-8")) if d]
    by_kind = {}
    for d in docs:
        check("apiVersion" in d and "kind" in d, f"object without apiVersion/kind: {d}")
        name = d.get("metadata", {}).get("name", "")
        check(re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name or "") is not None and len(name) <= 63,
              f"{d.get('kind')}: bad name {name!r}")
        by_kind.setdefault(d["kind"], []).append(d)
    for kind in ["Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "Job"]:
        check(len(by_kind.get(kind, [])) == 1, f"expected one {kind}, got {len(by_kind.get(kind, []))}")
    check(len(by_kind.get("Ingress", [])) == (1 if args.expect_ingress else 0), "Ingress count")
    check(len(by_kind.get("Secret", [])) == (1 if args.expect_secret else 0), "Secret count")
    if errors:
        return finish()

    dep = by_kind["Deployment"][0]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    sel = spec["selector"]["matchLabels"]
    check(all(labels.get(k) == v for k, v in sel.items()), "Deployment selector does not select its pods")
    check(spec["replicas"] == args.replicas, f"replicas {spec['replicas']} != {args.replicas}")
    ru = spec.get("strategy", {}).get("rollingUpdate", {})
    check(ru.get("maxUnavailable") == 0, "rolling update may take a node away before its successor is ready")

    c = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(ports.get("http") == 8080, "container port http != 8080")
    for probe, path in [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
        p = c.get(probe, {}).get("httpGet", {})
        check(p.get("path") == path, f"{probe} path {p.get('path')} != {path}")
        check(p.get("port") in ports, f"{probe} port {p.get('port')} not a container port")
    env = {e["name"]: e for e in c["env"]}
    check(len(env) == len(c["env"]), "an environment variable is set twice")
    for name in ["MPSV_IDP_ISSUER", "MPSV_IDP_DATABASE_URL", "MPSV_IDP_KEK_FILE", "MPSV_IDP_BIND", "MPSV_IDP_CONFIG"]:
        check(name in env, f"{name} not set")
    check(env.get("MPSV_IDP_ISSUER", {}).get("value", "").startswith("https://"), "issuer not https")
    check(env.get("MPSV_IDP_BIND", {}).get("value") == "0.0.0.0:8080", "MPSV_IDP_BIND")
    if "MPSV_IDP_METRICS_BIND" in env:
        mport = int(env["MPSV_IDP_METRICS_BIND"]["value"].rsplit(":", 1)[1])
        check(ports.get("metrics") == mport, "metrics listener port is not the container's metrics port")
    for e in c["env"]:
        check("value" in e or "valueFrom" in e, f"{e['name']}: no value")
        if "value" in e:
            check(isinstance(e["value"], str), f"{e['name']}: value must be a string")

    # Every Secret the pods read exists: rendered here, or one the values name (not rendered).
    secrets = {s["metadata"]["name"]: s for s in by_kind.get("Secret", [])}
    job = by_kind["Job"][0]
    jc = job["spec"]["template"]["spec"]["containers"][0]
    for who, cont in [("Deployment", c), ("Job", jc)]:
        for e in cont["env"]:
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] in secrets and not ref.get("optional"):
                check(ref["key"] in secrets[ref["name"]].get("data", {}),
                      f"{who}: {e['name']} reads key {ref['key']} missing from Secret {ref['name']}")
    # The KEK file: a Secret volume mounted where MPSV_IDP_KEK_FILE points.
    kek_file = env.get("MPSV_IDP_KEK_FILE", {}).get("value", "")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    vol = vols.get(mounts.get(kek_file.rsplit("/", 1)[0], ""), {}).get("secret")
    check(vol is not None, f"MPSV_IDP_KEK_FILE {kek_file} is not in a mounted Secret")
    if vol:
        paths = {i["path"]: i["key"] for i in vol.get("items", [])}
        check(paths.get(kek_file.rsplit("/", 1)[1]) is not None, "the KEK file is not an item of the Secret")
        if vol["secretName"] in secrets:
            for key in paths.values():
                check(key in secrets[vol["secretName"]].get("data", {}), f"Secret volume reads missing key {key}")
        check(vol.get("defaultMode", 0o644) & 0o007 == 0, "the KEK file is readable by others")
    for s in secrets.values():
        for k, v in s.get("data", {}).items():
            try:
                raw = base64.b64decode(v, validate=True).decode()
            except Exception:
                errors.append(f"Secret {k}: not base64")
                continue
            if k == "kek":
                check(re.fullmatch(r"[A-Za-z0-9_-]{43}", raw) is not None,
                      "kek is not base64url without padding of 32 bytes")
        hook = s["metadata"].get("annotations", {}).get("helm.sh/hook", "")
        check("pre-install" in hook and "pre-upgrade" in hook, "the chart's Secret must exist before the migration hook")

    # Migration: a pre-install/pre-upgrade hook after the Secret, running `migrate`.
    ja = job["metadata"]["annotations"]
    check("pre-install" in ja.get("helm.sh/hook", "") and "pre-upgrade" in ja.get("helm.sh/hook", ""),
          "migration Job is not a pre-install/pre-upgrade hook")
    for s in secrets.values():
        check(int(s["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(ja["helm.sh/hook-weight"]),
              "the Secret hook must run before the migration Job")
    check(jc.get("args") == ["migrate"], "migration Job does not run `migrate`")
    check(job["spec"]["template"]["spec"].get("restartPolicy") in ("Never", "OnFailure"), "Job restartPolicy")
    check(jc["image"] == c["image"], "migration Job runs another image than the nodes")

    # Hardening, for the nodes and the Job.
    for who, p, cont in [("Deployment", pod, c), ("Job", job["spec"]["template"]["spec"], jc)]:
        psc = p.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True, f"{who}: runAsNonRoot")
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{who}: seccomp RuntimeDefault")
        check(p.get("automountServiceAccountToken") is False, f"{who}: service account token mounted")
        sc = cont.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True, f"{who}: readOnlyRootFilesystem")
        check(sc.get("allowPrivilegeEscalation") is False, f"{who}: allowPrivilegeEscalation")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{who}: capabilities not all dropped")
        mounts = {m["mountPath"] for m in cont.get("volumeMounts", [])}
        check("/tmp" in mounts and "/data" in mounts, f"{who}: /tmp and /data must be writable volumes")
        check("resources" in cont and "requests" in cont["resources"], f"{who}: no resource requests")

    # Drain: the grace period outlasts preStop + the node's own bounded drain (requests in
    # progress up to request_timeout, 30 s by default; then 15 s of deliveries).
    grace = pod.get("terminationGracePeriodSeconds", 30)
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = int(pre[1]) if len(pre) == 2 and pre[0] == "sleep" else 0
    check(grace >= pre_s + 30 + 15, f"terminationGracePeriodSeconds {grace} too short for preStop {pre_s} + drain")

    anti = pod.get("affinity", {}).get("podAntiAffinity", {}).get("preferredDuringSchedulingIgnoredDuringExecution")
    check(bool(anti) or "affinity" in pod, "no pod anti-affinity")

    svc = by_kind["Service"][0]
    check(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "Service selects no pod")
    for p in svc["spec"]["ports"]:
        check(p["targetPort"] in ports, f"Service targetPort {p['targetPort']} not a container port")
    pdb = by_kind["PodDisruptionBudget"][0]
    check(pdb["spec"]["selector"]["matchLabels"] == sel, "PDB selector differs from the Deployment's")
    check(pdb["spec"].get("minAvailable") == 1, "PDB minAvailable != 1")

    cm = by_kind["ConfigMap"][0]
    mounted = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    check(bool(mounted), "the ConfigMap is not mounted")
    check("config.toml" in cm.get("data", {}), "ConfigMap has no config.toml")
    try:
        import tomllib

        tomllib.loads(cm["data"]["config.toml"])
    except ImportError:
        pass
    except Exception as e:  # noqa: BLE001
        errors.append(f"config.toml is not TOML: {e}")

    if args.expect_ingress:
        ing = by_kind["Ingress"][0]
        for r in ing["spec"]["rules"]:
            for p in r["http"]["paths"]:
                b = p["backend"]["service"]
                check(b["name"] == svc["metadata"]["name"], "Ingress backend is not the Service")
                check(b["port"].get("name") == "http", "Ingress must route the http port only")
    return finish()


def finish():
    for e in errors:
        print(f"chart check FAILED: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
