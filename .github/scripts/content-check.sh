#!/usr/bin/env bash
# The checks a lesson repository runs in CI; the fiml-cms action (action.yml) runs this.
#   FIML_BASE     the pull request's base ref: run the bump gate `fiml-cms check --base` (empty: skip)
#   FIML_ARCHIVE  auto | true | false: `fiml-cms archive --check` (auto: when the archive exists)
#   FIML_STRICT   true: warnings fail `validate` too
# Every check runs even when an earlier one fails; the exit code is the worst of them (2 > 1 > 0).
set -uo pipefail

worst=0
step() {
  echo "::group::$*"
  "$@"
  local rc=$?
  echo "::endgroup::"
  if [ "$rc" -ne 0 ]; then
    echo "$* exited with $rc"
    if [ "$rc" -gt "$worst" ]; then worst=$rc; fi
  fi
}

fiml-cms --version
strict=()
if [ "${FIML_STRICT:-false}" = "true" ]; then strict=(--strict); fi
step fiml-cms validate "${strict[@]}"
if [ -n "${FIML_BASE:-}" ]; then
  step fiml-cms check --base "$FIML_BASE"
fi
case "${FIML_ARCHIVE:-auto}" in
  true) step fiml-cms archive --check ;;
  auto)
    archive=$(python -c 'from pathlib import Path; from fiml_cms.config import load_settings; print(load_settings(Path.cwd()).archive)')
    if [ -f "$archive/index.json" ]; then step fiml-cms archive --check; else echo "no archive at $archive: archive --check skipped"; fi
    ;;
  false) ;;
  *) echo "FIML_ARCHIVE must be auto, true or false, not ${FIML_ARCHIVE}"; worst=2 ;;
esac
exit "$worst"
