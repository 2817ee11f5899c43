# shellcheck shell=bash
# Moving hosts from one release to another, one host at a time, with a way
# back: a worker leaves the balancer's rotation (drain, in-flight requests
# finish), switches its `current` release, restarts only when its binary or
# configuration changed, and must pass its gate (/readyz, then a real
# POST /analyze whose analysis GET /history shows) before it rejoins. A host
# that fails its gate goes back to the release it ran, by itself, and the
# rollout stops saying what happened. deploy/install, update and rollback
# share this. Sourced after lib/common.sh, lib/hosts.sh, lib/secrets.sh and
# lib/bundle.sh.

# Hosts moved by this run, and the message of a host that was rolled back.
MOVED_HOSTS=()
ROLLOUT_FAILURE=""
GATE_REASON=""

service_of() { [[ $(role_of "$1") == balancer ]] && echo sentiment-balancer || echo sentiment-backend; }
binary_of() { [[ $(role_of "$1") == balancer ]] && echo balancer || echo backend; }

# The host's `current` and `previous` releases, into REL_CURRENT and REL_PREVIOUS.
read_release_state() {
	local line
	REL_CURRENT="" REL_PREVIOUS=""
	line="$(host_tool "$1" sentiment-release status)" ||
		die "$1: cannot read its releases (sentiment-release status failed): run deploy/install first"
	if [[ $line =~ current=([^ ]*)\ previous=([^ ]*) ]]; then
		REL_CURRENT=${BASH_REMATCH[1]} REL_PREVIOUS=${BASH_REMATCH[2]}
	fi
}

# Uploads $RELEASE_ID to a host unless it is already there.
stage_release() {
	local name=$1
	if ((!DRY_RUN)) && host_tool "$name" sentiment-release has "$RELEASE_ID"; then
		log "  $name: release $RELEASE_ID already there"
		return 0
	fi
	host_put "$name" "$RELEASE_TREE/$(role_of "$name")" "/opt/sentiment/releases/.incoming-$RELEASE_ID"
	host_tool "$name" sentiment-release unpack "$RELEASE_ID"
	log "  $name: release $RELEASE_ID uploaded"
}

service_active() { host_service "$1" is-active "$(service_of "$1")" >/dev/null 2>&1; }

# --- the balancer's view (admin API on its loopback) ------------------------------
balancer_answers() { balancer_admin GET /backends >/dev/null 2>&1; }

# The admin API's entry for a worker URL ({} when it is not listed).
backend_state() {
	balancer_admin GET /backends | jq -c --arg a "$1" \
		'map(select(.address == $a or .address == ($a | ltrimstr("http://")))) | first // {}'
}
balancer_lists() {
	((DRY_RUN)) && { balancer_admin GET /backends >/dev/null; return 0; }
	[[ $(backend_state "$1" 2>/dev/null) != "{}" ]] && balancer_answers
}

# Polls backend_state until the jq condition holds (bounded: 60 s).
wait_backend() {
	local url=$1 condition=$2 what=$3 attempt
	((DRY_RUN)) && return 0
	for ((attempt = 1; attempt <= 120; attempt++)); do
		if backend_state "$url" 2>/dev/null | jq -e "$condition" >/dev/null; then
			return 0
		fi
		sleep 0.5
	done
	die "$url: not $what in the balancer after 60 s"
}

# Takes a worker out of rotation and waits for its in-flight requests.
drain() {
	local url path_id
	url="$(backend_url "$1")"
	path_id="${url#http://}"
	balancer_lists "$url" || return 0
	log "$1: draining ($url)"
	balancer_admin POST "/backends/$path_id/drain" >/dev/null
	wait_backend "$url" '.in_flight == 0' "idle"
}

# Puts a worker (back) into rotation as a fresh entry: neither draining nor
# carrying old counters. Nothing to do while the balancer is not running.
into_rotation() {
	local url path_id
	url="$(backend_url "$1")"
	path_id="${url#http://}"
	((DRY_RUN)) || balancer_answers || return 0
	if balancer_lists "$url"; then
		balancer_admin DELETE "/backends/$path_id" >/dev/null
	fi
	balancer_admin POST /backends "$(jq -cn --arg a "$url" '{address: $a}')" >/dev/null
	wait_backend "$url" '.healthy == true and (.draining | not)' "healthy"
	log "$1: in rotation"
}

# Removes a worker the configuration no longer has (WORKERS lowered).
out_of_rotation() {
	local url
	url="$(backend_url "$1")"
	balancer_lists "$url" || return 0
	drain "$1"
	balancer_admin DELETE "/backends/${url#http://}" >/dev/null
	log "$1: removed from the balancer (WORKERS=$WORKERS)"
}

# --- gates ----------------------------------------------------------------------------
# curl's extra arguments for the host being gated (the balancer's HTTPS, see
# balancer_curl_args), and how long it may take to answer.
GATE_CURL=()
GATE_TIMEOUT=0

# Bounded wait for /readyz at URL, asked from the balancer host (nothing else
# reaches a worker's port).
wait_readyz() {
	local url=$1 deadline answer
	deadline=$((SECONDS + GATE_TIMEOUT))
	while :; do
		if answer="$(host_exec "$(balancer_host)" curl -sS -m 3 "${GATE_CURL[@]}" -o /dev/null -w '%{http_code}' "$url" 2>&1)" &&
			[[ $answer == 200 ]]; then
			return 0
		fi
		if ((SECONDS >= deadline)); then
			GATE_REASON="not ready after ${GATE_TIMEOUT} s (last answer from $url: ${answer:-none})"
			[[ $url == https://* ]] && GATE_REASON+="; no certificate yet? the balancer logs its ACME orders: journalctl -u sentiment-balancer"
			return 1
		fi
		sleep 1
	done
}

# A real request through BASE: POST /analyze, then GET /history must show it.
gate_requests() {
	local base=$1 what=$2 body answer id
	body="$(jq -cn --arg t "Deployment check: $what" '{text: $t}')"
	answer="$(host_exec "$(balancer_host)" curl -sS --fail-with-body -m 10 "${GATE_CURL[@]}" -H 'Content-Type: application/json' \
		-d "$body" "$base/analyze" 2>&1)" || {
		GATE_REASON="POST /analyze failed: $answer"
		return 1
	}
	id="$(jq -r '.id // empty' <<<"$answer" 2>/dev/null)"
	[[ -n $id ]] || {
		GATE_REASON="POST /analyze answered without an id: $answer"
		return 1
	}
	host_exec "$(balancer_host)" curl -fsS -m 10 "${GATE_CURL[@]}" -H 'Cache-Control: no-cache' "$base/history?limit=500" |
		jq -e --arg id "$id" 'map(.id) | index($id) != null' >/dev/null || {
		GATE_REASON="GET /history does not show analysis $id, just written"
		return 1
	}
}

# The gate of a host on a release: ready, and a real request stored and read back.
gate() {
	local name=$1 release=$2 base what ready
	# The balancer keeps backends' /readyz private (proxy.private_paths): through it, a
	# worker's /healthz shows the balancer is up and forwarding.
	# With a DOMAIN the balancer gate goes over HTTPS (plain HTTP only redirects), and
	# on a first start that waits for the certificate.
	if [[ $(role_of "$name") == balancer ]]; then
		base="$(balancer_local_url)" what="release $release on $name (through the balancer)" ready=/healthz
		mapfile -t GATE_CURL < <(balancer_curl_args)
		GATE_TIMEOUT=$READY_TIMEOUT
		[[ -n ${DOMAIN:-} ]] && ((CERTIFICATE_TIMEOUT > GATE_TIMEOUT)) && GATE_TIMEOUT=$CERTIFICATE_TIMEOUT
	else
		base="$(backend_url "$name")" what="release $release on $name" ready=/readyz
		GATE_CURL=() GATE_TIMEOUT=$READY_TIMEOUT
	fi
	if ((DRY_RUN)); then
		host_exec "$(balancer_host)" curl -sS -m 3 "${GATE_CURL[@]}" -o /dev/null -w '%{http_code}' "$base$ready"
		host_exec "$(balancer_host)" curl -sS --fail-with-body -m 10 "${GATE_CURL[@]}" -H 'Content-Type: application/json' -d '<check>' "$base/analyze"
		host_exec "$(balancer_host)" curl -fsS -m 10 "${GATE_CURL[@]}" -H 'Cache-Control: no-cache' "$base/history?limit=500"
		return 0
	fi
	if ! wait_readyz "$base$ready" || ! gate_requests "$base" "$what"; then
		return 1
	fi
	log "$name: passed its gate on release $release ($ready, POST /analyze, GET /history)"
}

# Points NAME at release CURRENT (PREVIOUS behind it), restarting its service
# when RESTART is yes, and gates it; a worker is out of rotation meanwhile.
# Returns 1 with GATE_REASON set when the gate fails (a worker stays drained).
switch_host() {
	local name=$1 current=$2 previous=$3 restart=$4 service
	service="$(service_of "$name")"
	[[ $(role_of "$name") == worker ]] && drain "$name"
	host_tool "$name" sentiment-release point "$current" ${previous:+"$previous"}
	if [[ $restart == yes ]]; then
		log "$name: restarting $service on release $current"
		[[ $(role_of "$name") == balancer ]] && log "  (connections to the balancer are refused for a moment)"
		host_service "$name" restart "$service"
	else
		log "$name: $(binary_of "$name") binary and configuration unchanged: release $current switched without a restart"
	fi
	gate "$name" "$current" || return 1
	[[ $(role_of "$name") == worker ]] && into_rotation "$name"
	return 0
}

# Should NAME restart to run release TARGET? CONFIG_CHANGED is setup-host's answer.
restart_needed() {
	local name=$1 target=$2 config_changed=$3
	if [[ $config_changed == yes ]] || ! service_active "$name" ||
		host_tool "$name" sentiment-release binary-differs "$target" "$(binary_of "$name")"; then
		echo yes
	else
		echo no
	fi
}

# Brings NAME to $RELEASE_ID (CONFIG_CHANGED=yes: its unit or environment
# changed). On a failed gate the host returns to its release by itself; the
# rollout then stops (return 1, ROLLOUT_FAILURE says what happened).
roll_host() {
	local name=$1 config_changed=${2:-no} old_current old_previous restart reason
	read_release_state "$name"
	old_current=$REL_CURRENT old_previous=$REL_PREVIOUS
	if ((!DRY_RUN)) && [[ $old_current == "$RELEASE_ID" && $config_changed == no ]] && service_active "$name"; then
		log "$name: already on release $RELEASE_ID with its configuration unchanged: not touched"
		return 0
	fi
	restart="$(restart_needed "$name" "$RELEASE_ID" "$config_changed")"
	local behind=$old_current
	[[ $old_current == "$RELEASE_ID" ]] && behind=$old_previous
	if switch_host "$name" "$RELEASE_ID" "$behind" "$restart"; then
		MOVED_HOSTS+=("$name")
		return 0
	fi
	reason=$GATE_REASON
	if [[ -z $old_current || $old_current == "$RELEASE_ID" ]]; then
		die "$name fails its gate on release $RELEASE_ID ($reason) and has no earlier release to return to; it is out of rotation: read its log (journalctl -u $(service_of "$name")), fix the cause and run deploy/install again"
	fi
	log "$name: release $RELEASE_ID failed its gate ($reason): rolling back to release $old_current"
	if ! switch_host "$name" "$old_current" "$old_previous" yes; then
		die "$name: release $RELEASE_ID failed its gate ($reason), and so does release $old_current after the rollback ($GATE_REASON): the host is out of rotation"
	fi
	ROLLOUT_FAILURE="$name: release $RELEASE_ID failed its gate ($reason); it is back on release $old_current, which passed its gate and serves again"
	return 1
}

# The balancer's cache may hold pages of the old frontend or the old history.
purge_cache() {
	if ((DRY_RUN)) || balancer_answers; then
		balancer_admin POST /cache/purge >/dev/null
	fi
}

# After a rollout: a fresh cache, and only RELEASES_KEPT releases per host.
finish_rollout() {
	purge_cache
	local name
	for name in "${HOSTS[@]}"; do
		host_tool "$name" sentiment-release prune "$RELEASES_KEPT" >&2
	done
}

# Stops a rollout that rolled a host back: who moved, who did not, what to do.
report_failed_rollout() {
	local what=$1
	printf 'error: %s stopped: %s\n' "$what" "$ROLLOUT_FAILURE" >&2
	if ((${#MOVED_HOSTS[@]})); then
		printf '  already on release %s: %s\n' "$RELEASE_ID" "${MOVED_HOSTS[*]}" >&2
	else
		printf '  no host runs release %s\n' "$RELEASE_ID" >&2
	fi
	printf '  fix the release and run %s again, or deploy/rollback to return the moved hosts\n' "$what" >&2
	exit 1
}
