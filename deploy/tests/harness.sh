# shellcheck shell=bash
# The little test harness of deploy/tests: ok/FAIL lines, counters, and file
# assertions. Sourced by deploy/tests/run and the test files it sources.

passed=0 failed=0
pass() {
	printf 'ok   %s\n' "$1"
	passed=$((passed + 1))
}
fail() {
	printf 'FAIL %s\n' "$1"
	[[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/     /' | head -n 40
	failed=$((failed + 1))
}
# expect NAME COMMAND...: passes when the command succeeds.
expect() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
has() { grep -qF -- "$2" "$1"; }
has_line() { grep -qxF -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }
