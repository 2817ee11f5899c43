# shellcheck shell=bash
# The MongoDB replica set's formation and users (templates/remote/rs-init.js),
# run with mongosh on a member over SSH stdin: never written to a disk. The
# script says what it found; when the first root user has to be created and
# the primary is another member, it names that member and runs again there.
# Sourced after lib/common.sh, lib/hosts.sh, lib/secrets.sh and lib/bundle.sh.

# The rs-init.js settings, from the inventory and the secrets.
# shellcheck disable=SC2034 # read by render_text through @@NAME@@
replset_script() {
	local RS_MEMBERS="" RS_HOSTS member=0 name
	local MONGODB_ROOT_PASSWORD MONGODB_APP_PASSWORD MONGODB_BACKUP_PASSWORD
	while read -r name; do
		RS_MEMBERS+="{ _id: $member, host: '${HOST_PRIVATE_IP[$name]}:27017' }, "
		member=$((member + 1))
	done < <(replset_members)
	RS_MEMBERS=${RS_MEMBERS%, }
	RS_HOSTS="$(replset_hosts)"
	MONGODB_ROOT_PASSWORD="$(secret mongodb-root-password)"
	MONGODB_APP_PASSWORD="$(secret mongodb-app-password)"
	MONGODB_BACKUP_PASSWORD="$(secret mongodb-backup-password)"
	render_text "$DEPLOY_DIR/templates/remote/rs-init.js"
}

# The inventory name of the host with this private address.
host_with_address() {
	local name
	for name in "${HOSTS[@]}"; do
		[[ ${HOST_PRIVATE_IP[$name]} == "$1" ]] && { printf '%s\n' "$name"; return 0; }
	done
	return 1
}

form_replica_set() {
	log "MongoDB replica set $MONGODB_REPLSET ($(replset_hosts))"
	if ((DRY_RUN)); then
		# Placeholder secrets: the dry run may show the script.
		replset_script >"$WORK_DIR/rs-init.js"
		show_file rs-init.js "$WORK_DIR/rs-init.js"
	fi
	local host attempt answer status elsewhere
	host="$(balancer_host)"
	for attempt in 1 2; do
		status=0
		answer="$(host_exec "$host" mongosh --quiet --norc --nodb --file /dev/stdin < <(replset_script))" || status=$?
		[[ -n $answer ]] && printf '  %s\n' "${answer//$'\n'/$'\n'  }" >&2
		((status == 0)) && return 0
		elsewhere="$(sed -n 's/^PRIMARY_ELSEWHERE \([0-9.]*\):[0-9]*$/\1/p' <<<"$answer")"
		if ((status == 3)) && [[ -n $elsewhere ]] && ((attempt == 1)); then
			host="$(host_with_address "$elsewhere")" || die "the primary $elsewhere is none of the configured hosts"
			log "  the first user must be created on the primary: running again on $host"
			continue
		fi
		die "forming the replica set failed on $host (mongosh exit $status): see above; fix it and run deploy/install again"
	done
}
