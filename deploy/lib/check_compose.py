"""deploy/lib/check_compose.py — what the Compose file schema cannot see.

Run by deploy/lib/deploy-checks.sh after each file has passed the
compose-spec JSON schema (check-jsonschema). For the base file merged with
each overlay, the way `docker compose -f base -f overlay` merges them, it
checks that:
  - every file starts with a header comment naming it and saying what it is for;
  - every secret a service uses is declared, and compose/make-secrets writes it;
  - every named volume is declared, and every bind-mounted file exists;
  - every depends_on names a service, and a service that runs by default
    does not need one that a profile switches off (unless `required: false`).
Usage: python check_compose.py COMPOSE_DIR   (exit 1 and one line per problem)
"""

import re
import sys
from pathlib import Path

from ruamel.yaml import YAML

LIST_KEYS = {"secrets", "volumes", "ports", "env_file", "devices", "profiles"}


def merge(base, over):
    """Overlay `over` on `base`: maps merge, the lists above add up, the rest is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            if key in out and key in LIST_KEYS and isinstance(value, list):
                out[key] = list(out[key]) + [v for v in value if v not in out[key]]
            elif key in out:
                out[key] = merge(out[key], value)
            else:
                out[key] = value
        return out
    return over


def names(entries):
    """Secret names of a service's `secrets:` (short or long form)."""
    return [e["source"] if isinstance(e, dict) else e for e in entries or []]


def check(compose_dir: Path) -> list[str]:
    yaml = YAML(typ="safe")
    problems = []
    files = sorted(compose_dir.glob("compose*.yaml"))
    base_path = compose_dir / "compose.yaml"
    if base_path not in files:
        return [f"{base_path}: missing"]
    docs = {}
    for path in files:
        text = path.read_text()
        if not text.startswith(f"# compose/{path.name} — "):
            problems.append(f"{path}: the first line must be '# compose/{path.name} — what it is for'")
        docs[path] = yaml.load(text) or {}
    written = set(re.findall(r"^\s*write (\w+)", (compose_dir / "make-secrets").read_text(), re.M))

    for overlay in [p for p in files if p != base_path]:
        label = f"compose.yaml + {overlay.name}"
        merged = merge(docs[base_path], docs[overlay])
        services = merged.get("services", {})
        declared_secrets = merged.get("secrets", {}) or {}
        declared_volumes = merged.get("volumes", {}) or {}
        for name, svc in services.items():
            for secret in names(svc.get("secrets")):
                if secret not in declared_secrets:
                    problems.append(f"{label}: service {name} uses secret {secret}, which is not declared")
            for volume in svc.get("volumes", []) or []:
                source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
                if source.startswith((".", "/")):
                    if source.startswith(".") and not (compose_dir / source).exists():
                        problems.append(f"{label}: service {name} mounts {source}, which does not exist")
                elif source and source not in declared_volumes:
                    problems.append(f"{label}: service {name} uses volume {source}, which is not declared")
            deps = svc.get("depends_on", {}) or {}
            deps = {d: {} for d in deps} if isinstance(deps, list) else deps
            for dep, how in deps.items():
                if dep not in services:
                    problems.append(f"{label}: service {name} depends on {dep}, which does not exist")
                elif (
                    not svc.get("profiles")
                    and services[dep].get("profiles")
                    and (how or {}).get("required", True)
                ):
                    problems.append(
                        f"{label}: service {name} needs {dep}, which only runs with a profile "
                        f"(say `required: false`)"
                    )
        for secret, spec in declared_secrets.items():
            file = (spec or {}).get("file", "")
            if file.startswith("./secrets/") and file.removeprefix("./secrets/") not in written:
                problems.append(f"{label}: secret {secret} ({file}) is not written by compose/make-secrets")
    return problems


if __name__ == "__main__":
    found = check(Path(sys.argv[1]))
    for line in found:
        print(f"compose check: {line}", file=sys.stderr)
    sys.exit(1 if found else 0)
