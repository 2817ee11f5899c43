# shellcheck shell=bash
# Renders the files one host receives, as a tree rooted like the host's /
# (etc/sentiment/*.env, etc/systemd/system/*.service, etc/nftables.conf and,
# with MongoDB, etc/mongod.conf and etc/mongodb/keyfile). deploy/install ships
# this tree to a droplet; deploy/rehearse runs the very same files.
# Sourced after lib/common.sh, lib/hosts.sh and lib/secrets.sh.
# shellcheck disable=SC2034 # variables are read by render through @@NAME@@

# store: "mongodb" (droplets) or "embedded" (rehearsal: one SQLite file shared
# by the workers, since MongoDB cannot be installed here).
render_host_tree() {
	local HOST_NAME=$1 store=$2 out=$3
	local role PRIVATE_IP BALANCER_PRIVATE_IP STORE_SETTINGS
	role="$(role_of "$HOST_NAME")"
	PRIVATE_IP=${HOST_PRIVATE_IP[$HOST_NAME]}
	BALANCER_PRIVATE_IP=${HOST_PRIVATE_IP[$(balancer_host)]}
	local t="$DEPLOY_DIR/templates"
	rm -rf "$out"
	mkdir -p "$out"

	if [[ $role == balancer ]]; then
		local BALANCER_LISTEN=0.0.0.0:80 BALANCER_CAPABILITIES=CAP_NET_BIND_SERVICE BALANCER_BACKENDS="" ADMIN_TOKEN
		if [[ -n ${DOMAIN:-} ]]; then
			# nginx terminates TLS on :80/:443; the balancer needs no privilege at all.
			BALANCER_LISTEN=127.0.0.1:8080 BALANCER_CAPABILITIES=""
		fi
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
	else
		if [[ $store == mongodb ]]; then
			STORE_SETTINGS="MONGODB_URI=$(mongodb_uri)
MONGODB_DATABASE=$MONGODB_DATABASE
MONGODB_WRITE_CONCERN=majority"
		else
			STORE_SETTINGS="# Rehearsal only: the workers share one embedded SQLite file (MongoDB is the shared store on droplets).
SQLITE_PATH=/var/lib/sentiment/sentiment.db"
		fi
		render "$t/backend.env" "$out/etc/sentiment/backend.env" 0600
		render "$t/sentiment-backend.service" "$out/etc/systemd/system/sentiment-backend.service"
		render "$t/nftables-worker.nft" "$out/etc/nftables.conf" 0755
	fi

	if [[ $store == mongodb ]]; then
		render "$t/mongod.conf" "$out/etc/mongod.conf"
		mkdir -p "$out/etc/mongodb"
		install -m 0400 "$SECRETS_DIR/mongodb-keyfile" "$out/etc/mongodb/keyfile"
	fi
}

# Every member, majority writes, credentials of the app user (readWrite on the app database only).
mongodb_uri() {
	local hosts="" name
	while read -r name; do
		hosts+="${HOST_PRIVATE_IP[$name]}:27017,"
	done < <(droplet_names)
	printf 'mongodb://app:%s@%s/%s?replicaSet=%s&authSource=%s&w=majority\n' \
		"$(secret mongodb-app-password)" "${hosts%,}" "$MONGODB_DATABASE" "$MONGODB_REPLSET" "$MONGODB_DATABASE"
}
