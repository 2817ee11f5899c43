# shellcheck shell=bash
# Shared helpers for the deploy/ scripts: configuration loading, logging, the
# dry-run aware `run` wrapper and template rendering. Sourced, never executed.
# shellcheck disable=SC2034 # the paths below are used by the scripts sourcing this

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$DEPLOY_DIR/.." && pwd)"
STATE_DIR="${DEPLOY_STATE_DIR:-$DEPLOY_DIR/.state}"
SECRETS_DIR="${DEPLOY_SECRETS_DIR:-$DEPLOY_DIR/.secrets}"
BUILD_DIR="${DEPLOY_BUILD_DIR:-$DEPLOY_DIR/.build}"
DOCTL="${DOCTL:-doctl}"
DRY_RUN=0
# fd 3 is the script's own stdout, so commands printed by a dry run inside a
# $(...) capture still reach the reader.
exec 3>&1

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$1" >&2
	exit "${2:-1}"
}

# Runs a command, or in --dry-run only prints it (`+ ` prefix) on the script's stdout.
run() {
	if ((DRY_RUN)); then
		printf '+%s\n' "$(shell_words "$@")" >&3
	else
		"$@"
	fi
}

# Each argument with a leading space, single-quoted only when it needs quoting.
shell_words() {
	local arg
	for arg in "$@"; do
		if [[ $arg =~ ^[A-Za-z0-9_./:,=@%+~-]+$ ]]; then
			printf ' %s' "$arg"
		else
			printf " '%s'" "${arg//\'/\'\\\'\'}"
		fi
	done
}

# Prints a file that a dry run would use, framed so tests can find it.
show_file() {
	local label=$1 path=$2
	printf -- '--- file: %s (mode %s)\n' "$label" "$(stat -c %a "$path")"
	cat "$path"
	printf -- '--- end: %s\n' "$label"
}

load_config() {
	local config="${DEPLOY_CONFIG:-$DEPLOY_DIR/config.env}"
	[[ -f $config ]] || die "configuration file not found: $config"
	# shellcheck source=../config.env
	source "$config"
	local name
	for name in PROJECT REGION IMAGE BALANCER_SIZE WORKER_SIZE WORKER_COUNT BUDGET_USD VPC_CIDR \
		MONGODB_VERSION MONGODB_REPLSET MONGODB_DATABASE MONGODB_CACHE_GB BACKEND_PORT SSH_USER; do
		[[ -n ${!name:-} ]] || die "$name is empty in $config"
	done
	[[ $PROJECT =~ ^[a-z][a-z0-9-]*$ ]] || die "PROJECT must be lowercase letters, digits and dashes: $PROJECT"
	[[ $WORKER_COUNT =~ ^[1-9]$ ]] || die "WORKER_COUNT must be 1-9: $WORKER_COUNT"
	[[ $BUDGET_USD =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BUDGET_USD must be a number: $BUDGET_USD"
}

require_admin_cidr() {
	[[ -n ${ADMIN_CIDR:-} ]] || die "set ADMIN_CIDR (your public IP as a.b.c.d/32) in deploy/config.env"
	[[ $ADMIN_CIDR != 0.0.0.0/0 ]] || die "ADMIN_CIDR 0.0.0.0/0 would open SSH to the internet"
	[[ $ADMIN_CIDR =~ ^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+/[0-9]+$ ]] || die "ADMIN_CIDR is not an IPv4 CIDR: $ADMIN_CIDR"
}

# Droplet names, in a fixed order: the balancer first, then the workers.
droplet_names() {
	local i
	printf '%s-balancer\n' "$PROJECT"
	for ((i = 1; i <= WORKER_COUNT; i++)); do
		printf '%s-worker-%d\n' "$PROJECT" "$i"
	done
}

role_of() { [[ $1 == *-balancer ]] && echo balancer || echo worker; }

# Renders a template: every @@NAME@@ becomes the value of the shell variable
# NAME. Fails on a placeholder with no variable, so nothing is left half-filled.
render() {
	local template=$1 out=$2 mode=${3:-0644}
	local text name
	text="$(<"$template")"
	while [[ $text =~ @@([A-Z0-9_]+)@@ ]]; do
		name=${BASH_REMATCH[1]}
		[[ -v $name ]] || die "template $template uses @@${name}@@ but $name is not set"
		# Quoted replacement: bash 5.2 would otherwise expand `&` (URIs have them).
		text=${text//"@@${name}@@"/"${!name}"}
	done
	mkdir -p "$(dirname "$out")"
	# Create with the final mode before writing so secrets are never world-readable.
	(umask 077 && : >"$out")
	chmod "$mode" "$out"
	printf '%s\n' "$text" >"$out"
}
