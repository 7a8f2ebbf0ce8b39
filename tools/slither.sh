#!/usr/bin/env bash
# Static analysis of flexledger's Solidity sources (contracts/src) with Slither; `make slither`.
#
# Exits non-zero when Slither reports any finding of impact High or Medium in contracts/src
# (or when Slither cannot run at all). Prints one summary line, plus the High/Medium findings
# when there are any; SLITHER_VERBOSE=1 also lists the Low/Informational/Optimization ones and
# shows Slither's own log.
#
# How it works:
#   * Slither lives in its own virtual environment, .venv-slither, with pinned versions: it
#     pins an older web3 than the project does, so it must not share .venv.
#   * The compiler is the project's pinned solcjs (contracts/solc), reached through
#     contracts/solc/solc-wrapper, which speaks only `--version` and `--standard-json` and
#     refuses any import whose content is not in the standard-json input. crytic-compile's
#     default `solc --combined-json` mode is therefore out; its `--solc-standard-json` mode is
#     used instead, with a small shim (written below into .venv-slither/bin) as the `solc`
#     that crytic-compile runs. The shim
#       - turns crytic-compile's `{"urls": [path]}` sources into `{"content": ...}`,
#       - adds every imported file (contracts/src/**, OpenZeppelin through the remapping)
#         by content: it reruns the wrapper while solc answers "Source X not found" (error
#         6275), adding X each round, reading only files inside this repository,
#       - also compiles every contracts/src/**/*.sol (crytic-compile lists only the top level),
#       - applies contracts/build.py's settings (evmVersion london, optimizer 10000 runs, viaIR),
#     and otherwise passes the wrapper's output through untouched.
#   * Findings are kept only when one of their elements lies in contracts/src
#     (--include-paths). This drops the findings that are only about OpenZeppelin
#     (node_modules) but, unlike --filter-paths node_modules, does not hide a finding in our
#     code that merely also mentions an OpenZeppelin element.
#   * Slither writes its JSON report to a temp dir; this script judges it (High or Medium:
#     exit 1; Slither or the compiler failing: exit 2). No triage database is read, so only
#     the config's documented exclusions and inline `slither-disable-*` comments hide findings.
#   * Detector exclusions live in tools/slither.config.json, each with its reason.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd -P)"

SLITHER_VERSION=0.11.6
CRYTIC_COMPILE_VERSION=0.4.2
# Compiler settings as contracts/build.py uses them (EVM_VERSION, OPTIMIZER, VIA_IR), merged
# over crytic-compile's: it would otherwise compile unoptimised, which fails (stack too deep).
SOLC_SETTINGS='{"evmVersion": "london", "optimizer": {"enabled": true, "runs": 10000}, "viaIR": true}'
OZ_REMAP="@openzeppelin/=contracts/solc/node_modules/@openzeppelin/"

VENV="$ROOT/.venv-slither"
CONFIG="$ROOT/tools/slither.config.json"
WRAPPER="$ROOT/contracts/solc/solc-wrapper"
SHIM="$VENV/bin/flexledger-solc"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/slither.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

fail() {
    echo "slither.sh: $*" >&2
    exit 2
}

[ -x "$WRAPPER" ] || fail "$WRAPPER is missing (run: make contracts/solc/node_modules)"
[ -d "$ROOT/contracts/solc/node_modules/solc" ] || fail "solcjs is not installed (run: make contracts/solc/node_modules)"
compgen -G "contracts/src/*.sol" >/dev/null || fail "no contracts/src/*.sol to analyse"

# --- the virtual environment ------------------------------------------------------------
# Usable when it was made at this path (a venv's scripts name their interpreter by absolute
# path, so a copied or checked-in one is not) and holds the pinned versions.
venv_ok() {
    [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/slither" ] || return 1
    [ "$(head -n 1 "$VENV/bin/slither")" = "#!$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$SLITHER_VERSION" "$CRYTIC_COMPILE_VERSION" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version

wanted = {"slither-analyzer": sys.argv[1], "crytic-compile": sys.argv[2]}
sys.exit(any(version(name) != pinned for name, pinned in wanted.items()))
EOF
}

if ! venv_ok; then
    PY="${SLITHER_PYTHON:-}"
    if [ -z "$PY" ]; then
        for candidate in python3.11 python3.10 python3; do
            if command -v "$candidate" >/dev/null 2>&1; then
                PY="$candidate"
                break
            fi
        done
    fi
    [ -n "$PY" ] || fail "no python3 found for .venv-slither"
    rm -rf "$VENV"
    if ! {
        "$PY" -m venv "$VENV" &&
            "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
                "slither-analyzer==$SLITHER_VERSION" "crytic-compile==$CRYTIC_COMPILE_VERSION"
    } >"$TMP/install.log" 2>&1; then
        cat "$TMP/install.log" >&2
        rm -rf "$VENV"
        fail "could not install slither-analyzer==$SLITHER_VERSION into .venv-slither"
    fi
    venv_ok || fail "the new .venv-slither does not hold slither-analyzer==$SLITHER_VERSION"
fi

# --- the solc shim (rewritten every run, so it always matches this script) --------------
cat >"$SHIM.tmp" <<EOF
#!$VENV/bin/python
EOF
cat >>"$SHIM.tmp" <<'EOF'
"""solc for crytic-compile's --solc-standard-json mode over contracts/solc/solc-wrapper.

Written by tools/slither.sh; edit it there.
"""

import glob
import json
import os
import re
import subprocess
import sys

WRAPPER = os.environ["FLEXLEDGER_SOLC_WRAPPER"]
ROOT = os.path.abspath(os.environ["FLEXLEDGER_ROOT"])
SETTINGS = json.loads(os.environ["FLEXLEDGER_SOLC_SETTINGS"])
NOT_FOUND = re.compile(r'Source "(.+?)" not found')
MAX_ROUNDS = 64


def read_source(name):
    """The content of source unit `name` (a path relative to the working directory), or None
    if it is not a file under the repository (judged on the path as written, so a symlinked
    node_modules still works)."""
    path = os.path.abspath(name)
    if os.path.commonpath([path, ROOT]) != ROOT or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def compile_once(solc_input):
    done = subprocess.run(
        [WRAPPER, "--standard-json"],
        input=json.dumps(solc_input).encode(),
        capture_output=True,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def main():
    args = sys.argv[1:]
    if "--version" in args:
        os.execv(WRAPPER, [WRAPPER, "--version"])
    if "--standard-json" not in args:
        sys.stderr.write("flexledger-solc: only --version and --standard-json are supported\n")
        return 2

    solc_input = json.load(sys.stdin)
    sources = solc_input.setdefault("sources", {})
    for name, source in sources.items():
        if "content" not in source:
            for url in source.pop("urls", []):
                content = read_source(url)
                if content is not None:
                    source["content"] = content
                    break
    # Every contracts/src/**/*.sol, as contracts/build.py compiles, not only the top-level
    # files that crytic-compile lists: an interface nobody imports is analysed too.
    for path in sorted(glob.glob("contracts/src/**/*.sol", recursive=True)):
        if path not in sources:
            sources[path] = {"content": read_source(path)}
    solc_input.setdefault("settings", {}).update(SETTINGS)

    for _ in range(MAX_ROUNDS):
        returncode, stdout, stderr = compile_once(solc_input)
        try:
            output = json.loads(stdout)
        except ValueError:
            break
        added = False
        for error in output.get("errors", []):
            if error.get("errorCode") != "6275":
                continue
            match = NOT_FOUND.search(error.get("message", ""))
            if not match or match.group(1) in sources:
                continue
            content = read_source(match.group(1))
            if content is not None:
                sources[match.group(1)] = {"content": content}
                added = True
        if not added:
            break
    sys.stdout.buffer.write(stdout)
    sys.stderr.buffer.write(stderr)
    return returncode


if __name__ == "__main__":
    sys.exit(main())
EOF
chmod +x "$SHIM.tmp"
mv -f "$SHIM.tmp" "$SHIM"

# --- the configuration ------------------------------------------------------------------
# Checked here, because Slither only logs a config it cannot read and goes on without it:
# it must parse, and every excluded detector needs its reason in detectors_to_exclude_reasons.
# Slither gets a copy without the documentation keys (it would log each as unknown).
"$VENV/bin/python" - "$CONFIG" "$TMP/slither.config.json" <<'EOF' || fail "fix $CONFIG"
import json
import sys

source, target = sys.argv[1:]
try:
    with open(source, encoding="utf-8") as handle:
        config = json.load(handle)
except (OSError, ValueError) as exc:
    sys.exit(f"slither.sh: cannot read {source}: {exc}")
reasons = config.pop("detectors_to_exclude_reasons", {})
excluded = [d.strip() for d in (config.get("detectors_to_exclude") or "").split(",") if d.strip()]
undocumented = [d for d in excluded if not str(reasons.get(d, "")).strip()]
if undocumented:
    sys.exit(f"slither.sh: excluded without a reason: {', '.join(undocumented)}")
config = {key: value for key, value in config.items() if not key.startswith("_")}
if not config.get("detectors_to_exclude"):
    config.pop("detectors_to_exclude", None)
with open(target, "w", encoding="utf-8") as handle:
    json.dump(config, handle)
EOF

# --- run Slither -----------------------------------------------------------------------
INCLUDE_RE="^$("$VENV/bin/python" -c 'import re, sys; print(re.escape(sys.argv[1]))' "$ROOT/contracts/src/")"
START=$SECONDS
set +e
FLEXLEDGER_SOLC_WRAPPER="$WRAPPER" FLEXLEDGER_ROOT="$ROOT" FLEXLEDGER_SOLC_SETTINGS="$SOLC_SETTINGS" \
    "$VENV/bin/slither" contracts/src \
    --config-file "$TMP/slither.config.json" \
    --solc "$SHIM" \
    --solc-standard-json \
    --solc-remaps "$OZ_REMAP" \
    --include-paths "$INCLUDE_RE" \
    --triage-database "$TMP/no-triage.json" \
    --disable-color \
    --fail-none \
    --json "$TMP/slither.json" \
    >"$TMP/slither.log" 2>&1
SLITHER_RC=$?
set -e
ELAPSED=$((SECONDS - START))

# --- report ----------------------------------------------------------------------------
set +e
"$VENV/bin/python" - "$TMP/slither.json" "$TMP/slither.log" "$SLITHER_RC" "$ELAPSED" "$ROOT" <<'EOF'
import json
import os
import re
import sys

json_path, log_path, slither_rc, elapsed, root = sys.argv[1:]
verbose = os.environ.get("SLITHER_VERBOSE", "") not in ("", "0")
with open(log_path, encoding="utf-8", errors="replace") as handle:
    log = handle.read()


def broken(why):
    print(f"slither: {why}", file=sys.stderr)
    compile_error = log.find("InvalidCompilation: ")
    if compile_error >= 0:  # the compiler's messages, without the traceback above them
        print(log[compile_error:].strip()[:6000], file=sys.stderr)
    else:
        print(log[-6000:], file=sys.stderr)
    sys.exit(2)


try:
    with open(json_path, encoding="utf-8") as handle:
        report = json.load(handle)
except (OSError, ValueError):
    broken(f"Slither produced no JSON report (exit status {slither_rc})")
if not report.get("success") or slither_rc != "0":
    broken(f"Slither failed (exit status {slither_rc}): {report.get('error')}")
analysed = re.search(r"analyzed \((\d+) contracts", log)
if not analysed or int(analysed.group(1)) == 0:
    broken("Slither analysed no contract")

order = ["High", "Medium", "Low", "Informational", "Optimization"]
findings = (report.get("results") or {}).get("detectors", [])
findings.sort(key=lambda f: (order.index(f["impact"]) if f["impact"] in order else 9, f["check"]))


def where(finding):
    """file:line of the finding's most precise element (a statement rather than its function)."""
    elements = [e for e in finding.get("elements", []) if e.get("source_mapping", {}).get("lines")]
    if not elements:
        return finding.get("first_markdown_element") or "?"
    element = next((e for e in elements if e.get("type") == "node"), elements[0])
    mapping = element["source_mapping"]
    path = mapping.get("filename_absolute") or mapping.get("filename_relative", "?")
    if os.path.isabs(path):
        path = os.path.relpath(path, root)
    lines = mapping["lines"]
    span = str(lines[0]) if lines[0] == lines[-1] else f"{lines[0]}-{lines[-1]}"
    return f"{path}:{span}"


def show(finding):
    description = finding["description"].strip().splitlines()
    print(f"  [{finding['impact']}/{finding['confidence']}] {finding['check']} at {where(finding)}")
    for line in description[:12]:
        print(f"      {line}")
    if len(description) > 12:
        print(f"      ... ({len(description) - 12} more lines)")


counts = {impact: sum(f["impact"] == impact for f in findings) for impact in order}
failing = [f for f in findings if f["impact"] in ("High", "Medium")]
summary = ", ".join(f"{counts[impact]} {impact.lower()}" for impact in order)
print(f"slither: {analysed.group(1)} contracts, {summary} ({elapsed}s)")
for finding in findings if verbose else failing:
    show(finding)
if verbose:
    print(log)
if failing:
    print(f"slither: FAILED: {len(failing)} High/Medium finding(s) in contracts/src", file=sys.stderr)
    sys.exit(1)
EOF
REPORT_RC=$?
set -e
exit "$REPORT_RC"
