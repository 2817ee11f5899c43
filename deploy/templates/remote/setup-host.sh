#!/usr/bin/env bash
# Runs as root on a droplet, from the bundle deploy/install uploaded: checks
# that cloud-init prepared the host, puts the rendered files in place changing
# only those that differ, loads the host firewall, and starts or restarts
# mongod only when its configuration changed. It never restarts the app: it
# prints `restart-needed=yes|no` on stdout (yes when the role's unit or
# environment changed) and deploy/install rolls the service. Safe to re-run;
# the bundle, which holds secrets, is deleted on every exit.
# Usage: setup-host.sh balancer|worker PROJECT HOST_NAME
# SENTIMENT_ROOT prefixes every path (tests, rehearsal); SENTIMENT_REHEARSAL=1
# means a rehearsal namespace: no cloud-init, no systemd (unitrun runs units).
set -euo pipefail
role=$1 project=$2 host_name=$3
bundle="$(cd "$(dirname "$0")" && pwd)"
root="${SENTIMENT_ROOT:-}"
rehearsal="${SENTIMENT_REHEARSAL:-0}"
trap 'rm -rf "$bundle"' EXIT

say() { printf '  %s: %s\n' "$host_name" "$*" >&2; }
fail() {
	say "error: $*"
	exit 1
}

# --- cloud-init --------------------------------------------------------------
# 0 done, 2 done with recoverable errors (a warning: say what they were),
# anything else failed: show why instead of failing later on a missing user.
if ((!rehearsal)); then
	status=0
	cloud-init status --wait >/dev/null 2>&1 || status=$?
	case $status in
	0) ;;
	2)
		say "warning: cloud-init finished with recoverable errors:"
		cloud-init status --long >&2 || true
		;;
	*)
		say "cloud-init failed (exit $status):"
		cloud-init status --long >&2 || true
		tail -n 40 /var/log/cloud-init-output.log >&2 2>/dev/null || true
		fail "cloud-init did not prepare this host; fix the cause above, then destroy and re-provision this droplet"
		;;
	esac
	getent passwd sentiment >/dev/null || fail "no user 'sentiment': cloud-init did not run its users step (cloud-init status --long)"
	command -v nft >/dev/null || fail "nft is missing: cloud-init did not install its packages (cloud-init status --long)"
	if [[ -f $bundle/root/etc/mongod.conf ]]; then
		for tool in mongod mongosh mongodump; do
			command -v "$tool" >/dev/null || fail "$tool is missing: MongoDB's packages did not install (cloud-init status --long; /var/log/cloud-init-output.log)"
		done
		getent passwd mongodb >/dev/null || fail "no user 'mongodb': the mongodb-org package did not install"
	fi
fi

# --- files: change only what differs -----------------------------------------
# The balancer's environment as it was, to tell a new list of workers (applied
# live) from a change that needs a restart.
previous_balancer_env="$bundle/previous-balancer.env"
if [[ -f $root/etc/sentiment/balancer.env ]]; then
	cp "$root/etc/sentiment/balancer.env" "$previous_balancer_env"
fi
changed=()
while IFS= read -r -d '' file; do
	relative=${file#"$bundle/root/"}
	target="$root/$relative"
	mode="$(stat -c %a "$file")"
	owner=root:root
	[[ $relative == etc/mongodb/keyfile ]] && owner=mongodb:mongodb
	if [[ -f $target ]] && cmp -s "$file" "$target" && [[ $(stat -c %a "$target") == "$mode" ]]; then
		continue
	fi
	install -D -m "$mode" "$file" "$target"
	((rehearsal)) || chown "$owner" "$target"
	changed+=("/$relative")
	say "updated /$relative"
done < <(find "$bundle/root" -type f -print0 | sort -z)
((${#changed[@]})) || say "every file already as configured"
was_changed() {
	local path
	for path in "${changed[@]}"; do
		[[ $path == "$1" ]] && return 0
	done
	return 1
}

systemd() {
	if ((rehearsal)); then
		return 0
	fi
	systemctl "$@"
}

if printf '%s\n' "${changed[@]}" | grep -q '^/etc/systemd/system/'; then
	systemd daemon-reload
fi

# --- host firewall -------------------------------------------------------------
if was_changed /etc/nftables.conf || ! nft list table inet "$project" >/dev/null 2>&1; then
	nft -f "$root/etc/nftables.conf"
	say "host firewall loaded"
fi
systemd enable --quiet nftables

# --- MongoDB: restart only for a changed configuration -------------------------
mongo_answers() {
	mongosh --quiet --norc 'mongodb://127.0.0.1:27017/?directConnection=true' --eval "$1" 2>/dev/null
}
wait_for_mongod() {
	local attempt state
	for ((attempt = 0; attempt < 60; attempt++)); do
		# hello needs no authentication: up, and (once the set exists) a voting member again.
		state="$(mongo_answers 'const h = db.hello(); print(!h.setName ? "standalone" : h.isWritablePrimary ? "primary" : h.secondary ? "secondary" : "other")')" || state=""
		case $state in
		standalone | primary | secondary)
			say "mongod answers ($state)"
			return 0
			;;
		esac
		sleep 1
	done
	fail "mongod did not come back within 60 s: journalctl -u mongod; /var/log/mongodb/mongod.log"
}
if ((!rehearsal)) && [[ -f $bundle/root/etc/mongod.conf ]]; then
	systemd enable --quiet mongod
	if was_changed /etc/mongod.conf || was_changed /etc/mongodb/keyfile; then
		if systemd is-active --quiet mongod; then
			say "mongod configuration changed: restarting mongod"
			systemd restart mongod
		else
			say "starting mongod"
			systemd start mongod
		fi
		wait_for_mongod
	elif ! systemd is-active --quiet mongod; then
		say "starting mongod"
		systemd start mongod
		wait_for_mongod
	else
		say "mongod running with its configuration unchanged: not restarted"
	fi
fi

# --- nginx and certbot of earlier deployments (the balancer now serves TLS) ------
# They held :80 and :443, which the balancer binds itself now: stop them
# before it restarts, and remove them.
if ((!rehearsal)) && [[ $role == balancer ]]; then
	leftovers=()
	for package in nginx nginx-common nginx-core certbot python3-certbot; do
		dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' && leftovers+=("$package")
	done
	if ((${#leftovers[@]})); then
		say "removing ${leftovers[*]} (an earlier deployment's TLS; the balancer serves :80 and :443 itself now)"
		systemctl disable --now nginx.service certbot.timer >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${leftovers[@]}" >&2
	fi
fi

# --- the role's units -----------------------------------------------------------
unit=sentiment-backend
[[ $role == balancer ]] && unit=sentiment-balancer
systemd enable --quiet "$unit"
if [[ -f $bundle/root/etc/systemd/system/sentiment-backup.timer ]]; then
	# The backup unit may write only there (ReadWritePaths): it must exist before it starts.
	install -d -m 0700 "$root/var/backups/sentiment"
	systemd enable --quiet --now sentiment-backup.timer
fi

# The app restarts for a changed unit or environment. The balancer's list of
# workers is applied live through its admin API, so that line alone does not count.
restart=no
if was_changed "/etc/systemd/system/$unit.service"; then
	restart=yes
elif [[ $role == worker ]] && was_changed /etc/sentiment/backend.env; then
	restart=yes
elif [[ $role == balancer ]] && was_changed /etc/sentiment/balancer.env; then
	if [[ ! -f $previous_balancer_env ]] || ! cmp -s <(grep -v '^BALANCER_BACKENDS=' "$previous_balancer_env") \
		<(grep -v '^BALANCER_BACKENDS=' "$root/etc/sentiment/balancer.env"); then
		restart=yes
	fi
fi
printf 'restart-needed=%s\n' "$restart"
