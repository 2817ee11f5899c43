# shellcheck shell=bash
# Generated secrets, kept in deploy/.secrets (mode 0700, files 0600, ignored
# by git): the balancer admin token, the MongoDB passwords (root, app,
# backup) and the replica set's internal-authentication keyFile. Sourced after
# lib/common.sh.

SECRET_NAMES=(admin-token mongodb-app-password mongodb-root-password mongodb-backup-password mongodb-keyfile)

ensure_secrets() {
	(umask 077 && mkdir -p "$SECRETS_DIR")
	chmod 0700 "$SECRETS_DIR"
	new_secret admin-token openssl rand -hex 32
	new_secret mongodb-app-password openssl rand -hex 24
	new_secret mongodb-root-password openssl rand -hex 24
	new_secret mongodb-backup-password openssl rand -hex 24
	new_secret mongodb-keyfile openssl rand -base64 756
}

new_secret() {
	local file="$SECRETS_DIR/$1"
	shift
	[[ -s $file ]] && return 0
	(umask 077 && "$@" >"$file")
	chmod 0600 "$file"
}

secret() {
	local file="$SECRETS_DIR/$1"
	[[ -s $file ]] || die "secret $1 missing in $SECRETS_DIR (deploy/install creates it)"
	tr -d '\n' <"$file"
}

# Dry runs render with visible placeholders instead of real secrets.
use_placeholder_secrets() {
	SECRETS_DIR=$1
	mkdir -p "$SECRETS_DIR"
	local name
	for name in "${SECRET_NAMES[@]}"; do
		(umask 077 && echo "<$name>" >"$SECRETS_DIR/$name")
	done
}
