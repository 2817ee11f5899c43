# shellcheck shell=bash
# The inventory (deploy/.state/inventory: "name public-ip private-ip" per
# droplet) and how commands reach a host: over SSH to a droplet, or, for the
# rehearsal (DEPLOY_TRANSPORT=netns), into the network namespace of that name,
# where the host's /opt, /etc and /var/lib/sentiment live under
# $REHEARSAL_ROOT/<name> (host_path maps them; remote scripts read SENTIMENT_ROOT).
# Sourced after lib/common.sh and lib/doctl.sh.

DEPLOY_TRANSPORT="${DEPLOY_TRANSPORT:-ssh}"
declare -A HOST_PUBLIC_IP=() HOST_PRIVATE_IP=()
# The configured droplets (balancer, workers 1..WORKERS) and, after a scale
# down, the inventory's workers beyond WORKERS.
HOSTS=()
EXTRA_WORKERS=()

load_inventory() {
	local file name public private
	file="${DEPLOY_INVENTORY:-$(inventory_file)}"
	[[ -f $file ]] || die "no inventory at $file: run deploy/provision first"
	while read -r name public private; do
		[[ -z $name || $name == \#* ]] && continue
		HOST_PUBLIC_IP[$name]=$public
		HOST_PRIVATE_IP[$name]=$private
	done <"$file"
	while read -r name; do
		[[ -n ${HOST_PRIVATE_IP[$name]:-} ]] || die "$name is missing from $file (WORKERS=$WORKERS): run deploy/provision"
		HOSTS+=("$name")
	done < <(droplet_names)
	for name in "${!HOST_PRIVATE_IP[@]}"; do
		if [[ $name == "$PROJECT"-worker-* ]] && ! printf '%s\n' "${HOSTS[@]}" | grep -xF "$name" >/dev/null; then
			EXTRA_WORKERS+=("$name")
		fi
	done
}

balancer_host() { printf '%s-balancer\n' "$PROJECT"; }
worker_hosts() { droplet_names | grep -v -- '-balancer$'; }

# A worker as the balancer knows it.
backend_url() { printf 'http://%s:%s\n' "${HOST_PRIVATE_IP[$1]}" "$BACKEND_PORT"; }

# Host keys of this deployment only, in its own known_hosts, so a droplet that
# reuses an address after `destroy` is recognised as new instead of refused.
known_hosts_file() { printf '%s/known_hosts\n' "$STATE_DIR"; }
ssh_options() {
	printf '%s\n' -i "$SSH_PRIVATE_KEY_FILE" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o "UserKnownHostsFile=$(known_hosts_file)" -o StrictHostKeyChecking=accept-new \
		-o ConnectTimeout=10 -o ServerAliveInterval=15 -o LogLevel=ERROR
}

# Forgets the host keys recorded for an address (a destroyed or new droplet).
forget_host_key() {
	local address=$1
	[[ -f $(known_hosts_file) ]] || return 0
	run ssh-keygen -q -R "$address" -f "$(known_hosts_file)" >/dev/null 2>&1 || true
	run rm -f "$(known_hosts_file).old"
}

# Runs a command as root on a host; stdin is passed through.
host_exec() {
	local name=$1
	shift
	case $DEPLOY_TRANSPORT in
	ssh)
		local options
		mapfile -t options < <(ssh_options)
		run ssh "${options[@]}" "$SSH_USER@${HOST_PUBLIC_IP[$name]}" "sudo --$(shell_words "$@")"
		;;
	netns) run ip netns exec "$name" env "SENTIMENT_ROOT=$REHEARSAL_ROOT/$name" SENTIMENT_REHEARSAL=1 "$@" ;;
	*) die "unknown DEPLOY_TRANSPORT $DEPLOY_TRANSPORT" ;;
	esac
}

# A path on a host, as commands run through host_exec see it.
host_path() {
	case $DEPLOY_TRANSPORT in
	netns) printf '%s/%s%s\n' "$REHEARSAL_ROOT" "$1" "$2" ;;
	*) printf '%s\n' "$2" ;;
	esac
}

# Runs one of the helper scripts install puts in /usr/local/sbin.
host_tool() {
	local name=$1 tool=$2
	shift 2
	host_exec "$name" "$(host_path "$name" "/usr/local/sbin/$tool")" "$@"
}

# Copies a local file or directory to a path on a host (root-owned, 0700
# parents), replacing what was there.
host_put() {
	local name=$1 source=$2 target=$3
	case $DEPLOY_TRANSPORT in
	ssh)
		local options staging
		mapfile -t options < <(ssh_options)
		staging="/tmp/$PROJECT-upload-$$-$RANDOM"
		run scp -q -r "${options[@]}" "$source" "$SSH_USER@${HOST_PUBLIC_IP[$name]}:$staging"
		# shellcheck disable=SC2016 # expanded by the remote shell
		host_exec "$name" sh -c 'rm -rf "$2" && mkdir -p "${2%/*}" && mv -T "$1" "$2" && chown -R root:root "$2"' \
			sh "$staging" "$target"
		;;
	netns)
		local mapped
		mapped="$(host_path "$name" "$target")"
		run mkdir -p "$(dirname "$mapped")"
		run rm -rf "$mapped.new"
		run cp -a "$source" "$mapped.new"
		run rm -rf "$mapped"
		run mv -T "$mapped.new" "$mapped"
		;;
	esac
}

# Copies a file from a host to a local path.
host_get() {
	local name=$1 source=$2 target=$3
	case $DEPLOY_TRANSPORT in
	ssh) host_exec "$name" cat "$source" >"$target" ;;
	netns) run cp "$(host_path "$name" "$source")" "$target" ;;
	esac
}

# start|stop|restart|is-active a systemd unit on a host.
host_service() {
	local name=$1 action=$2 unit=$3
	case $DEPLOY_TRANSPORT in
	ssh) host_exec "$name" systemctl "$action" "$unit" ;;
	netns) run "$DEPLOY_DIR/rehearsal/unitrun" "$action" "$name" "$unit" ;;
	esac
}

# Waits until sshd on a new droplet answers and cloud-init let the admin user
# in (bounded: about five minutes).
wait_ssh() {
	local name=$1 attempt
	[[ $DEPLOY_TRANSPORT == ssh ]] || return 0
	((DRY_RUN)) && { host_exec "$name" true; return 0; }
	for ((attempt = 1; attempt <= 30; attempt++)); do
		if host_exec "$name" true 2>/dev/null </dev/null; then
			return 0
		fi
		((attempt == 1)) && log "  waiting for sshd on $name (${HOST_PUBLIC_IP[$name]})"
		sleep 10
	done
	die "$name (${HOST_PUBLIC_IP[$name]}) does not accept SSH as $SSH_USER with $SSH_PRIVATE_KEY_FILE after 5 minutes: check ADMIN_CIDR (deploy/firewall) and the key (deploy/doctor)"
}

# Calls the balancer's admin API (loopback-only on the balancer host). The
# token travels on stdin, never on a command line.
balancer_admin() {
	local method=$1 path=$2 body=${3:-}
	local args=(curl -sS --fail-with-body -m 10 -X "$method" -H @- "http://127.0.0.1:8081$path")
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' -d "$body")
	# Process substitution, not a pipe: a dry run reads nothing, and the writer's
	# SIGPIPE must not fail the call.
	host_exec "$(balancer_host)" "${args[@]}" < <(printf 'Authorization: Bearer %s\n' "$(secret admin-token)")
}
