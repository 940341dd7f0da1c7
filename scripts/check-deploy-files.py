"""Checks docker-compose.yml and the Dockerfile without a Docker engine (there is none on the
development machines): the compose file must pass `docker-compose config`, and every path, build
stage, port, variable and tool version the two files name must exist in the repository and agree
with the configuration code. Prints one line per problem and exits 1 when there is any.

Usage: python3 scripts/check-deploy-files.py   (needs docker-compose and PyYAML; Debian's
docker-compose package brings both, under /usr/bin/python3)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
problems = []


def problem(text):
    problems.append(text)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


# ---- docker-compose config: syntax, interpolation, the subset docker-compose 1.29 accepts ----------
# It needs the .env the services read; a newcomer makes it from .env.example, so that is used here.
with tempfile.TemporaryDirectory() as scratch:
    shutil.copy(os.path.join(ROOT, "docker-compose.yml"), scratch)
    shutil.copy(os.path.join(ROOT, ".env.example"), os.path.join(scratch, ".env"))
    run = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config"], cwd=scratch, capture_output=True, text=True
    )
    if run.returncode != 0:
        print(f"docker-compose config failed:\n{run.stderr}", file=sys.stderr)
        sys.exit(1)
    resolved = yaml.safe_load(run.stdout)

raw_compose = read("docker-compose.yml")
compose = yaml.safe_load(raw_compose)
dockerfile = read("Dockerfile")
env_example = read(".env.example")
config_code = read("proxy/src/config.rs") + read("admin-api/src/config.rs") + read("settings/src/database.rs")
# Read at start by the processes' allocators (glibc's malloc, the proxy's mimalloc), not by our
# configuration code; README's settings table must explain them instead.
allocator_variables = {"MALLOC_ARENA_MAX", "MIMALLOC_PURGE_DELAY"}
readme = read("README.md")

# ---- Dockerfile: stages, sources, pinned tools ----------------------------------------------------
stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, re.M | re.I))
for source in re.findall(r"^COPY\s+(?!--from)(\S+)\s", dockerfile, re.M):
    if not os.path.exists(os.path.join(ROOT, source)):
        problem(f"Dockerfile copies {source}, which is not in the repository")
for stage in re.findall(r"--from=(\S+)", dockerfile):
    if stage not in stages:
        problem(f"Dockerfile copies from stage {stage}, which it does not define")
ignored = read(".dockerignore").split()
for secret in [".env", "target", ".git"]:
    if secret not in ignored:
        problem(f".dockerignore must leave out {secret} (COPY . . would put it in an image)")

pins = {
    "trunk": (r"cargo install trunk --version (\S+)", read("scripts/ensure-web-tools.sh"), r"TRUNK_VERSION=(\S+)"),
    "wasm-bindgen-cli": (
        r"cargo install wasm-bindgen-cli --version (\S+)",
        read("admin-web/Trunk.toml"),
        r'wasm_bindgen = "([^"]+)"',
    ),
    "binaryen": (r"binaryen@(\d+)", read("admin-web/Trunk.toml"), r'wasm_opt = "version_(\d+)"'),
}
for tool, (in_dockerfile, other_text, in_other) in pins.items():
    ours, theirs = re.search(in_dockerfile, dockerfile), re.search(in_other, other_text)
    if not ours or not theirs or ours.group(1) != theirs.group(1):
        problem(f"Dockerfile pins {tool} at {ours and ours.group(1)}, the build expects {theirs and theirs.group(1)}")
rust = re.search(r"ARG RUST_VERSION=(\S+)", dockerfile)
minimum = re.search(r'rust-version\s*=\s*"([^"]+)"', read("Cargo.toml"))
if not rust or not minimum or tuple(map(int, rust.group(1).split("."))) < tuple(map(int, minimum.group(1).split("."))):
    problem(f"Dockerfile's Rust {rust and rust.group(1)} is older than the workspace's rust-version")


def stage_text(name):
    """The lines of one Dockerfile stage."""
    match = re.search(rf"^FROM\s+\S+\s+AS\s+{name}\s*$(.*?)(?=^FROM\s|\Z)", dockerfile, re.M | re.S | re.I)
    return match.group(1) if match else ""


# ---- services: build targets, variables, ports, order ---------------------------------------------
for_service = {"proxy": "PROXY_PORT", "admin": "ADMIN_PORT"}
for name, port_variable in for_service.items():
    service = compose["services"].get(name)
    if not service:
        problem(f"docker-compose.yml has no {name} service")
        continue
    build = service.get("build", {})
    if not os.path.isdir(os.path.join(ROOT, build.get("context", "?"))):
        problem(f"{name}: build context {build.get('context')} is not a directory")
    target = build.get("target")
    if target not in stages:
        problem(f"{name}: build target {target} is not a stage of the Dockerfile")
    text = stage_text(target)
    if "HEALTHCHECK" not in text or "USER" not in dockerfile:
        problem(f"{name}: the image needs a HEALTHCHECK and a non-root USER")
    for key in service.get("environment", {}):
        if f'"{key}"' not in config_code:
            problem(f"{name}: sets {key}, which no configuration reads")
    for key in re.findall(r"^ENV\s+(.*)$", text, re.M):
        for assignment in key.split():
            variable = assignment.split("=")[0]
            if variable in allocator_variables:
                if f"| `{variable}` |" not in readme:
                    problem(f"Dockerfile stage {target} sets {variable}, which README's settings table lacks")
                continue
            if f'"{variable}"' not in config_code:
                problem(f"Dockerfile stage {target} sets {assignment}, which no configuration reads")
    inside = str(resolved["services"][name]["environment"].get(port_variable))
    exposed = re.findall(r"^EXPOSE\s+(\d+)", text, re.M)
    published = [str(p["target"]) for p in resolved["services"][name].get("ports", [])]
    if published != [inside] or exposed != [inside]:
        problem(f"{name}: listens on {port_variable}={inside}, exposes {exposed}, maps container ports {published}")
    if port_variable not in text.split("HEALTHCHECK", 1)[-1]:
        problem(f"{name}: the HEALTHCHECK does not probe {port_variable}")
    for dependency, condition in service.get("depends_on", {}).items():
        other = compose["services"][dependency]
        checked = "healthcheck" in other or "HEALTHCHECK" in stage_text(other.get("build", {}).get("target", ""))
        if condition.get("condition") != "service_healthy" or not checked:
            problem(f"{name}: waits for {dependency}, which must be healthy and have a healthcheck")
    if service.get("env_file") != ".env":
        problem(f"{name}: must read .env")
    if "restart" not in service:
        problem(f"{name}: needs a restart policy")

admin_web_dir = compose["services"]["admin"]["environment"].get("ADMIN_WEB_DIR")
if f"/src/admin-web/dist {admin_web_dir}" not in dockerfile:
    problem(f"admin: ADMIN_WEB_DIR={admin_web_dir}, but the Dockerfile does not copy the built app there")

spool_dir = compose["services"]["proxy"]["environment"].get("LOG_SPOOL_DIR")
mounts = [v.split(":", 1) for v in compose["services"]["proxy"].get("volumes", [])]
if not any(target == spool_dir and name in compose.get("volumes", {}) for name, target in mounts):
    problem(f"proxy: its spool ({spool_dir}) must be on a named volume, or records waiting for MySQL die with the container")
if f"install -d -o tokenslipper {spool_dir}" not in dockerfile:
    problem(f"Dockerfile: the proxy's user must own {spool_dir}")

mysql = compose["services"].get("mysql", {})
if not str(mysql.get("image", "")).startswith("mysql:8.4"):
    problem("the database service must be mysql:8.4")
if "utf8mb4_unicode_ci" not in " ".join(mysql.get("command", [])) or "healthcheck" not in mysql:
    problem("mysql: needs utf8mb4_unicode_ci and a healthcheck")
if not any(v.split(":")[0] in compose.get("volumes", {}) for v in mysql.get("volumes", [])):
    problem("mysql: its data must be on a named volume")

# Every ${VAR} the compose file reads from .env is documented in .env.example (commented or not).
for variable in sorted(set(re.findall(r"\$\{(\w+)", raw_compose))):
    if not re.search(rf"^#?\s*{variable}=", env_example, re.M):
        problem(f"docker-compose.yml reads ${{{variable}}}, which .env.example does not document")

for line in problems:
    print(f"check-deploy-files: {line}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-deploy-files: docker-compose.yml and Dockerfile agree with the repository ({len(stages)} stages)")
