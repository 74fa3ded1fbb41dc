#!/usr/bin/env bash
# Tag on merge: on a push to a release branch, tag every lesson version new on it and push the tags.
# The fiml-cms action (action.yml, input `tag-on-merge`) runs this after the checks passed.
#   FIML_PUSH_REMOTE  where the tags go (default: origin)
# `fiml-cms tag --merged` is idempotent: a rerun (or the next push) tags only what is still missing, so
# a run that failed half-way is finished by running it again. Tags it did create are pushed even when
# it reports a problem with another lesson (exit 1).
set -uo pipefail

fiml-cms tag --merged
rc=$?
if [ "$rc" -gt 1 ]; then exit "$rc"; fi
git push --quiet "${FIML_PUSH_REMOTE:-origin}" --tags || exit 2
exit "$rc"
