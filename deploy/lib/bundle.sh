# shellcheck shell=bash
# Renders the configuration one host receives, as a tree rooted like the
# host's / (etc/sentiment/*.env, etc/systemd/system/*, etc/nftables.conf, the
# helper scripts in usr/local/sbin and, on the replica set's members,
# etc/mongod.conf and etc/mongodb/keyfile). deploy/install ships this tree to
# a droplet; deploy/rehearse installs the very same files. Binaries and the
# frontend are not here: they are the release (lib/release.sh).
# Sourced after lib/common.sh, lib/hosts.sh and lib/secrets.sh.
# shellcheck disable=SC2034 # variables are read by render through @@NAME@@

# The balancer's own address as seen on its host (the gate and tests talk to it there).
balancer_listen() {
	if [[ -n ${DOMAIN:-} ]]; then
		# nginx terminates TLS on :80/:443; the balancer needs no privilege at all.
		printf '127.0.0.1:8080\n'
	else
		printf '0.0.0.0:80\n'
	fi
}
balancer_local_url() {
	local listen
	listen="$(balancer_listen)"
	printf 'http://127.0.0.1:%s\n' "${listen##*:}"
}

is_replset_member() { replset_members | grep -xF "$1" >/dev/null; }

render_host_tree() {
	local HOST_NAME=$1 out=$2
	local role PRIVATE_IP BALANCER_PRIVATE_IP STORE_SETTINGS
	role="$(role_of "$HOST_NAME")"
	PRIVATE_IP=${HOST_PRIVATE_IP[$HOST_NAME]}
	BALANCER_PRIVATE_IP=${HOST_PRIVATE_IP[$(balancer_host)]}
	local t="$DEPLOY_DIR/templates"
	rm -rf "$out"
	mkdir -p "$out/usr/local/sbin"
	install -m 0755 "$t/remote/sentiment-release" "$out/usr/local/sbin/sentiment-release"

	if [[ $role == balancer ]]; then
		local BALANCER_LISTEN BALANCER_CAPABILITIES=CAP_NET_BIND_SERVICE BALANCER_BACKENDS="" ADMIN_TOKEN
		BALANCER_LISTEN="$(balancer_listen)"
		[[ -n ${DOMAIN:-} ]] && BALANCER_CAPABILITIES=""
		ADMIN_TOKEN="$(secret admin-token)"
		local worker
		for worker in $(worker_hosts); do
			BALANCER_BACKENDS+="$(backend_url "$worker"),"
		done
		BALANCER_BACKENDS=${BALANCER_BACKENDS%,}
		render "$t/balancer.env" "$out/etc/sentiment/balancer.env" 0600
		render "$t/sentiment-balancer.service" "$out/etc/systemd/system/sentiment-balancer.service"
		render "$t/nftables-balancer.nft" "$out/etc/nftables.conf" 0755
		if [[ -n ${DOMAIN:-} ]]; then
			render "$t/nginx-acme.conf" "$out/etc/nginx/sites-available/$PROJECT-acme.conf"
			render "$t/nginx-tls.conf" "$out/etc/nginx/sites-available/$PROJECT-tls.conf"
		fi
		if [[ $DEPLOY_STORE == mongodb ]]; then
			local MONGODB_BACKUP_PASSWORD
			MONGODB_BACKUP_PASSWORD="$(secret mongodb-backup-password)"
			render "$t/backup.env" "$out/etc/sentiment/backup.env" 0600
			render "$t/sentiment-backup.service" "$out/etc/systemd/system/sentiment-backup.service"
			render "$t/sentiment-backup.timer" "$out/etc/systemd/system/sentiment-backup.timer"
			install -m 0755 "$t/remote/sentiment-backup" "$out/usr/local/sbin/sentiment-backup"
		fi
	else
		if [[ $DEPLOY_STORE == mongodb ]]; then
			STORE_SETTINGS="BACKEND_MONGODB_URI=$(mongodb_uri)
BACKEND_MONGODB_DATABASE=$MONGODB_DATABASE
BACKEND_MONGODB_WRITE_CONCERN=majority"
		else
			STORE_SETTINGS="# Rehearsal only: the workers share one embedded SQLite file (MongoDB is the shared store on droplets).
BACKEND_DB_PATH=/var/lib/sentiment/sentiment.db"
		fi
		render "$t/backend.env" "$out/etc/sentiment/backend.env" 0600
		render "$t/sentiment-backend.service" "$out/etc/systemd/system/sentiment-backend.service"
		render "$t/nftables-worker.nft" "$out/etc/nftables.conf" 0755
	fi

	if [[ $DEPLOY_STORE == mongodb ]] && is_replset_member "$HOST_NAME"; then
		render "$t/mongod.conf" "$out/etc/mongod.conf"
		mkdir -p "$out/etc/mongodb"
		install -m 0400 "$SECRETS_DIR/mongodb-keyfile" "$out/etc/mongodb/keyfile"
	fi
}

# The replica set's three members, majority writes, credentials of the app
# user (readWrite on the app database only).
mongodb_uri() {
	printf 'mongodb://app:%s@%s/%s?replicaSet=%s&authSource=%s&w=majority\n' \
		"$(secret mongodb-app-password)" "$(replset_hosts)" "$MONGODB_DATABASE" "$MONGODB_REPLSET" "$MONGODB_DATABASE"
}

# host:port of every member, comma-separated.
replset_hosts() {
	local hosts="" name
	while read -r name; do
		hosts+="${HOST_PRIVATE_IP[$name]}:27017,"
	done < <(replset_members)
	printf '%s\n' "${hosts%,}"
}
