# shellcheck shell=bash
# Shared helpers for the deploy/ scripts: configuration loading, logging, the
# dry-run aware `run` wrapper, a scratch folder removed on every exit, and
# template rendering. Sourced, never executed.
# shellcheck disable=SC2034 # the paths below are used by the scripts sourcing this

# Checked before anything newer is parsed: macOS ships bash 3.2, whose
# failures further down would make no sense to the reader. 4.4, not 4.2:
# before 4.4, `set -u` calls an empty array "${a[@]}" unbound.
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
	printf 'error: deploy/ needs bash 4.4 or newer, this is %s (macOS: brew install bash, then run the scripts with it)\n' \
		"$BASH_VERSION" >&2
	exit 1
fi

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$DEPLOY_DIR/.." && pwd)"
STATE_DIR="${DEPLOY_STATE_DIR:-$DEPLOY_DIR/.state}"
SECRETS_DIR="${DEPLOY_SECRETS_DIR:-$DEPLOY_DIR/.secrets}"
BACKUP_DIR="${DEPLOY_BACKUP_DIR:-$DEPLOY_DIR/backups}"
DOCTL="${DOCTL:-doctl}"
# "mongodb" on droplets; the rehearsal sets "embedded" (one SQLite file shared
# by the workers) because MongoDB cannot be installed on the machine running it.
DEPLOY_STORE="${DEPLOY_STORE:-mongodb}"
# The account the units run as (the rehearsal runs them as nobody).
SERVICE_USER="${DEPLOY_SERVICE_USER:-sentiment}"
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

# A private scratch folder for this run (rendered files with secrets, release
# trees, uploads), removed on every exit, failures and Ctrl-C included, so
# nothing holding a password outlives the run. Extra cleanups register with
# on_exit.
WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/deploy.XXXXXX")"
chmod 0700 "$WORK_DIR"
BUILD_DIR="$WORK_DIR/build"
EXIT_HOOKS=()
on_exit() { EXIT_HOOKS+=("$1"); }
run_exit_hooks() {
	local status=$? hook
	set +e
	for hook in "${EXIT_HOOKS[@]}"; do
		eval "$hook"
	done
	rm -rf "$WORK_DIR"
	return "$status"
}
trap run_exit_hooks EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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
	for name in PROJECT REGION IMAGE BALANCER_SIZE WORKER_SIZE WORKERS BUDGET_USD VPC_CIDR \
		MONGODB_VERSION MONGODB_KEY_FINGERPRINT MONGODB_REPLSET MONGODB_DATABASE MONGODB_CACHE_GB \
		BACKEND_PORT SSH_USER BACKUP_KEEP RELEASES_KEPT READY_TIMEOUT; do
		[[ -n ${!name:-} ]] || die "$name is empty in $config"
	done
	[[ $PROJECT =~ ^[a-z][a-z0-9-]*$ ]] || die "PROJECT must be lowercase letters, digits and dashes: $PROJECT"
	# Two workers at least: with the balancer they are the replica set's three members.
	[[ $WORKERS =~ ^[2-9]$ ]] || die "WORKERS must be 2-9 (the replica set needs the balancer and two workers): $WORKERS"
	[[ $BUDGET_USD =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BUDGET_USD must be a number: $BUDGET_USD"
	local count
	for count in BACKUP_KEEP RELEASES_KEPT READY_TIMEOUT; do
		[[ ${!count} =~ ^[1-9][0-9]*$ ]] || die "$count must be a positive whole number: ${!count}"
	done
	((RELEASES_KEPT >= 2)) || die "RELEASES_KEPT must be 2 or more: the current release and the one to roll back to"
	check_tls_settings "$config"
	SSH_PRIVATE_KEY_FILE="${SSH_PRIVATE_KEY_FILE:-${SSH_PUBLIC_KEY_FILE%.pub}}"
}

# DOMAIN and the ACME settings end up on the balancer's ExecStart line, where
# systemd would expand `$` and `%`: only plain names, addresses and URLs pass.
check_tls_settings() {
	local config=$1
	: "${DOMAIN:=}" "${ACME_EMAIL:=}" "${ACME_STAGING:=0}" "${ACME_DIRECTORY:=}" "${ACME_CA_ROOT:=}"
	: "${HSTS_MAX_AGE:=0}" "${CERTIFICATE_TIMEOUT:=180}"
	[[ $ACME_STAGING == [01] ]] || die "ACME_STAGING must be 0 or 1: $ACME_STAGING"
	[[ $HSTS_MAX_AGE =~ ^[0-9]+$ ]] || die "HSTS_MAX_AGE must be a whole number of seconds (0: no header): $HSTS_MAX_AGE"
	[[ $CERTIFICATE_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "CERTIFICATE_TIMEOUT must be a positive whole number: $CERTIFICATE_TIMEOUT"
	[[ -n $DOMAIN ]] || return 0
	[[ $DOMAIN =~ ^([a-z0-9]([a-z0-9-]*[a-z0-9])?[.])+[a-z][a-z0-9-]*[a-z0-9]$ && ${#DOMAIN} -le 253 ]] ||
		die "DOMAIN must be a lowercase host name such as app.example.org (no scheme, port or path): $DOMAIN"
	[[ -z $ACME_EMAIL || $ACME_EMAIL =~ ^[A-Za-z0-9._+-]+@([A-Za-z0-9-]+[.])+[A-Za-z0-9-]+$ ]] ||
		die "ACME_EMAIL is not a plain e-mail address: $ACME_EMAIL"
	[[ -z $ACME_DIRECTORY || $ACME_DIRECTORY =~ ^https://[A-Za-z0-9._:/-]+$ ]] ||
		die "ACME_DIRECTORY must be an https:// URL (letters, digits, . _ : / -): $ACME_DIRECTORY"
	[[ -z $ACME_CA_ROOT || -f $ACME_CA_ROOT ]] || die "ACME_CA_ROOT in $config names no file: $ACME_CA_ROOT"
	((ACME_STAGING)) && [[ -n $ACME_DIRECTORY ]] && die "ACME_STAGING=1 and ACME_DIRECTORY both choose the ACME server: set one"
	return 0
}

# ADMIN_CIDR opens SSH in the cloud firewall; a wide range is almost always a
# mistake, so anything wider than /16 needs --allow-wide-admin-cidr.
require_admin_cidr() {
	local allow_wide=${1:-0}
	[[ -n ${ADMIN_CIDR:-} ]] || die "set ADMIN_CIDR (your public IP as a.b.c.d/32) in deploy/config.env"
	[[ $ADMIN_CIDR =~ ^([0-9]+)[.]([0-9]+)[.]([0-9]+)[.]([0-9]+)/([0-9]+)$ ]] ||
		die "ADMIN_CIDR is not an IPv4 CIDR: $ADMIN_CIDR"
	local octet prefix=${BASH_REMATCH[5]}
	for octet in "${BASH_REMATCH[@]:1:4}"; do
		((10#$octet <= 255)) || die "ADMIN_CIDR has an octet over 255: $ADMIN_CIDR"
	done
	((10#$prefix <= 32)) || die "ADMIN_CIDR has a prefix over /32: $ADMIN_CIDR"
	((10#$prefix > 0)) || die "ADMIN_CIDR $ADMIN_CIDR would open SSH to the whole internet; refused even with --allow-wide-admin-cidr"
	if ((10#$prefix < 16 && !allow_wide)); then
		die "ADMIN_CIDR $ADMIN_CIDR is wider than /16 (SSH open to $((1 << (32 - 10#$prefix))) addresses); use your IP as a.b.c.d/32, or pass --allow-wide-admin-cidr if you mean it"
	fi
}

# Droplet names, in a fixed order: the balancer first, then the workers.
droplet_names() {
	local i
	printf '%s-balancer\n' "$PROJECT"
	for ((i = 1; i <= WORKERS; i++)); do
		printf '%s-worker-%d\n' "$PROJECT" "$i"
	done
}

# The MongoDB replica set: the balancer and the first two workers, whatever WORKERS is.
replset_members() { droplet_names | sed -n 1,3p; }

role_of() { [[ $1 == *-balancer ]] && echo balancer || echo worker; }

# Prints a rendered template: every @@NAME@@ becomes the value of the shell
# variable NAME. Fails on a placeholder with no variable, so nothing is left half-filled.
render_text() {
	local template=$1 text name
	text="$(<"$template")"
	while [[ $text =~ @@([A-Z0-9_]+)@@ ]]; do
		name=${BASH_REMATCH[1]}
		[[ -v $name ]] || die "template $template uses @@${name}@@ but $name is not set"
		# Quoted replacement: bash 5.2 would otherwise expand `&` (URIs have them).
		text=${text//"@@${name}@@"/"${!name}"}
	done
	printf '%s\n' "$text"
}

# Renders a template into a file created with its final mode before anything
# is written, so secrets are never world-readable.
render() {
	local template=$1 out=$2 mode=${3:-0644} text
	text="$(render_text "$template")" || exit 1
	mkdir -p "$(dirname "$out")"
	(umask 077 && : >"$out")
	chmod "$mode" "$out"
	printf '%s\n' "$text" >"$out"
}
