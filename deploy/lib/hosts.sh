# shellcheck shell=bash
# The inventory (deploy/.state/inventory: "name public-ip private-ip" per
# droplet) and how commands reach a host: over SSH to a droplet, or, for the
# rehearsal (DEPLOY_TRANSPORT=netns), into the network namespace of that name.
# Sourced after lib/common.sh and lib/doctl.sh.

DEPLOY_TRANSPORT="${DEPLOY_TRANSPORT:-ssh}"
declare -A HOST_PUBLIC_IP=() HOST_PRIVATE_IP=()
HOSTS=()

load_inventory() {
	local file name public private
	file="${DEPLOY_INVENTORY:-$(inventory_file)}"
	[[ -f $file ]] || die "no inventory at $file: run deploy/provision first"
	while read -r name public private; do
		[[ -z $name || $name == \#* ]] && continue
		HOST_PUBLIC_IP[$name]=$public
		HOST_PRIVATE_IP[$name]=$private
		HOSTS+=("$name")
	done <"$file"
	while read -r name; do
		[[ -n ${HOST_PRIVATE_IP[$name]:-} ]] || die "$name is missing from $file"
	done < <(droplet_names)
}

balancer_host() { printf '%s-balancer\n' "$PROJECT"; }
worker_hosts() { droplet_names | grep -v -- '-balancer$'; }

# A worker as the balancer knows it.
backend_url() { printf 'http://%s:%s\n' "${HOST_PRIVATE_IP[$1]}" "$BACKEND_PORT"; }

ssh_opts=(-o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=10)

# Runs a command as root on a host; stdin is passed through.
host_exec() {
	local name=$1
	shift
	case $DEPLOY_TRANSPORT in
	ssh) run ssh "${ssh_opts[@]}" "$SSH_USER@${HOST_PUBLIC_IP[$name]}" "sudo --$(shell_words "$@")" ;;
	netns) run ip netns exec "$name" "$@" ;;
	*) die "unknown DEPLOY_TRANSPORT $DEPLOY_TRANSPORT" ;;
	esac
}

# Copies a local file or directory to a path on a host (root-owned there).
host_put() {
	local name=$1 source=$2 target=$3
	case $DEPLOY_TRANSPORT in
	ssh)
		local staging
		staging="/tmp/$PROJECT-upload-$RANDOM"
		run scp -q -r "${ssh_opts[@]}" "$source" "$SSH_USER@${HOST_PUBLIC_IP[$name]}:$staging"
		host_exec "$name" rm -rf "$target"
		host_exec "$name" mv -T "$staging" "$target"
		host_exec "$name" chown -R root:root "$target"
		;;
	netns)
		local root="$REHEARSAL_ROOT/$name"
		run mkdir -p "$(dirname "$root$target")"
		run rm -rf "$root$target.new"
		run cp -a "$source" "$root$target.new"
		run mv -T "$root$target.new" "$root$target"
		;;
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

# Waits (bounded) until a worker answers /readyz, asked from the balancer host:
# nothing else may reach a worker's port.
wait_ready() {
	local name=$1 url attempt
	url="http://${HOST_PRIVATE_IP[$name]}:$BACKEND_PORT/readyz"
	for ((attempt = 1; attempt <= 60; attempt++)); do
		if host_exec "$(balancer_host)" curl -fs -m 3 -o /dev/null "$url"; then
			return 0
		fi
		sleep 1
	done
	die "$name is not ready after $((attempt - 1)) attempts ($url)"
}
