#!/usr/bin/env bash
# Rewrites every case's expected output from the oracle, `kubectl kustomize` (kustomize v5.5):
# cases/<name>/expected.yaml, or cases/<name>/expected-error.txt (kubectl's message) when it fails.
# Review the diff before keeping it: these files are what the tests hold the patch code to.
set -euo pipefail
cd "$(dirname "$0")/../cases"
for dir in */; do
  name=${dir%/}
  if out=$(kubectl kustomize "$name" 2>/tmp/refresh-expected.err); then
    printf '%s\n' "$out" > "$name/expected.yaml"
    rm -f "$name/expected-error.txt"
  else
    grep -v '^\s*$' /tmp/refresh-expected.err | sed -e 's/^E[0-9]* [0-9:.]* *[0-9]* run.go:[0-9]*\] //' > "$name/expected-error.txt"
    rm -f "$name/expected.yaml"
  fi
done
