# shellcheck shell=bash
# Preflight checks: the tools and versions the scripts rely on, doctl's
# authentication, the SSH key pair and its use with -i, the build tools. Each
# prints one line (ok / FAIL with what to do / skip with why); `deploy/doctor`
# runs them all, and every other script runs the ones it needs before it
# touches anything. Sourced after lib/common.sh.

DOCTOR_FAILURES=0 DOCTOR_PASSED=0
# deploy/doctor lists every check; the other scripts only what fails.
DOCTOR_VERBOSE=0
doctor_ok() {
	DOCTOR_PASSED=$((DOCTOR_PASSED + 1))
	((DOCTOR_VERBOSE)) && printf '  ok    %s\n' "$*" >&2
	return 0
}
doctor_fail() {
	printf '  FAIL  %s\n' "$*" >&2
	DOCTOR_FAILURES=$((DOCTOR_FAILURES + 1))
}
doctor_skip() {
	((DOCTOR_VERBOSE)) && printf '  skip  %s\n' "$*" >&2
	return 0
}

# Is VERSION at least MINIMUM (dotted numbers)?
version_at_least() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | sed -n 1p) == "$2" ]]; }

check_command() {
	local tool=$1 hint=$2
	if command -v "$tool" >/dev/null 2>&1; then
		return 0
	fi
	doctor_fail "$tool not found: $hint"
	return 1
}

doctor_local() {
	doctor_ok "bash $BASH_VERSION (4.4 or newer)"
	if stat --version 2>/dev/null | grep -q GNU && sort --version 2>/dev/null | grep -q GNU; then
		doctor_ok "GNU coreutils $(stat --version | sed -n 1p | awk '{ print $NF }')"
	else
		doctor_fail "GNU coreutils needed (stat -c, sort -V, sha256sum): macOS: brew install coreutils and put its gnubin first in PATH"
	fi
	local version
	if check_command jq "apt-get install jq / brew install jq"; then
		version="$(jq --version 2>/dev/null | sed 's/^jq-//')"
		if version_at_least "${version:-0}" 1.6; then doctor_ok "jq $version"; else doctor_fail "jq $version is older than 1.6"; fi
	fi
	local tool
	for tool in curl openssl gzip awk sed find xargs; do
		check_command "$tool" "install it with your package manager" && doctor_ok "$tool"
	done
}

doctor_ssh() {
	local tool
	for tool in ssh scp ssh-keygen; do
		check_command "$tool" "install OpenSSH's client" || return 0
	done
	doctor_ok "OpenSSH client ($(ssh -V 2>&1 | sed -n 1p))"
	if [[ ! -f $SSH_PUBLIC_KEY_FILE ]] || ! ssh-keygen -l -f "$SSH_PUBLIC_KEY_FILE" >/dev/null 2>&1; then
		doctor_fail "no public key at $SSH_PUBLIC_KEY_FILE: ssh-keygen -t ed25519, or set SSH_PUBLIC_KEY_FILE"
		return 0
	fi
	if [[ ! -f $SSH_PRIVATE_KEY_FILE ]]; then
		doctor_fail "no private key at $SSH_PRIVATE_KEY_FILE (ssh -i uses it): set SSH_PRIVATE_KEY_FILE"
		return 0
	fi
	if [[ $(stat -c %a "$SSH_PRIVATE_KEY_FILE") != [46]00 ]]; then
		doctor_fail "$SSH_PRIVATE_KEY_FILE is readable by others and ssh will refuse it: chmod 600 $SSH_PRIVATE_KEY_FILE"
		return 0
	fi
	local public derived
	public="$(awk '{ print $2 }' "$SSH_PUBLIC_KEY_FILE")"
	if derived="$(ssh-keygen -y -P '' -f "$SSH_PRIVATE_KEY_FILE" 2>/dev/null)"; then
		if [[ $(awk '{ print $2 }' <<<"$derived") == "$public" ]]; then
			doctor_ok "SSH key pair $SSH_PRIVATE_KEY_FILE (+.pub) matches, used with ssh -i"
		else
			doctor_fail "$SSH_PRIVATE_KEY_FILE is not the private half of $SSH_PUBLIC_KEY_FILE"
		fi
	elif ssh-add -L 2>/dev/null | grep -qF "$public"; then
		doctor_ok "SSH key $SSH_PRIVATE_KEY_FILE has a passphrase and is loaded in ssh-agent"
	else
		doctor_fail "$SSH_PRIVATE_KEY_FILE has a passphrase and is not in ssh-agent (the scripts cannot prompt): ssh-add $SSH_PRIVATE_KEY_FILE"
	fi
}

doctor_doctl() {
	if ((DRY_RUN)); then
		doctor_skip "doctl (a dry run calls no provider)"
		return 0
	fi
	check_command "$DOCTL" "install doctl: https://docs.digitalocean.com/reference/doctl/how-to/install/" || return 0
	doctor_ok "doctl $("$DOCTL" version 2>/dev/null | sed -n 1p | awk '{ print $3 }')"
	local account
	if account="$("$DOCTL" account get --format Email,Status --no-header 2>&1)"; then
		if [[ $account == *active* ]]; then
			doctor_ok "doctl authenticated as $(awk '{ print $1 }' <<<"$account")"
		else
			doctor_fail "DigitalOcean account not active: $account"
		fi
	else
		doctor_fail "doctl is not authenticated ($(head -n 1 <<<"$account")): doctl auth init"
	fi
}

doctor_build() {
	local version
	if check_command cargo "install Rust 1.89 or newer: https://rustup.rs"; then
		version="$(rustc --version 2>/dev/null | awk '{ print $2 }')"
		if version_at_least "${version:-0}" 1.89; then doctor_ok "rustc $version"; else doctor_fail "rustc ${version:-?} is older than 1.89: rustup update"; fi
	fi
	doctor_objdump
}

doctor_objdump() {
	if check_command objdump "GNU binutils (apt-get install binutils; brew install binutils): it checks the binaries are ELF x86-64 for the droplets"; then
		if objdump --version 2>/dev/null | sed -n 1p | grep -q GNU; then
			doctor_ok "objdump ($(objdump --version | sed -n 1p))"
		else
			doctor_fail "objdump is not GNU binutils' (its output is what the ELF check reads)"
		fi
	fi
}

doctor_gpg() {
	check_command gpg "apt-get install gnupg / brew install gnupg: provision checks MongoDB's signing key with it" &&
		doctor_ok "gpg ($(gpg --version | sed -n 1p))"
}

# Runs the named groups (local ssh doctl build objdump gpg); dies listing the
# failures, before the calling script has done anything.
preflight() {
	local group
	for group in "$@"; do
		"doctor_$group"
	done
	if ((DOCTOR_FAILURES)); then
		die "preflight: $DOCTOR_FAILURES problem(s) above; fix them first (deploy/doctor re-checks everything)"
	fi
	log "preflight: $DOCTOR_PASSED checks passed ($*)"
}
