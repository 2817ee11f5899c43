# shellcheck shell=bash
# Renders the configuration one host receives, as a tree rooted like the
# host's / (etc/sentiment/*.env, etc/systemd/system/*, etc/nftables.conf, the
# helper scripts in usr/local/sbin and, on the replica set's members,
# etc/mongod.conf and etc/mongodb/keyfile). deploy/install ships this tree to
# a droplet; deploy/rehearse installs the very same files. Binaries and the
# frontend are not here: they are the release (lib/release.sh).
# Sourced after lib/common.sh, lib/hosts.sh and lib/secrets.sh.
# shellcheck disable=SC2034 # variables are read by render through @@NAME@@

# Where the balancer's ACME state lives (systemd's StateDirectory=, under /var/lib).
acme_state_directory() { printf 'sentiment-balancer\n'; }
# Where a private ACME server's root is shipped (world-readable, like any CA
# certificate: the balancer runs unprivileged and /etc/sentiment is root's).
acme_ca_root_path() { printf '/etc/ssl/sentiment/acme-ca-root.pem\n'; }

# The balancer's arguments beyond its environment file: with a DOMAIN, HTTPS on
# :443 with a certificate over ACME, plain HTTP redirected to it (except the
# HTTP-01 challenge path), and HSTS. Flags rather than environment, so the unit
# says what the balancer serves; one per line.
balancer_tls_args() {
	[[ -n ${DOMAIN:-} ]] || return 0
	printf '%s\n' --tls-listen 0.0.0.0:443 --acme-domain "$DOMAIN" --acme-contact "mailto:$ACME_EMAIL" \
		--acme-state-dir "/var/lib/$(acme_state_directory)"
	((ACME_STAGING)) && printf '%s\n' --acme-staging
	[[ -n $ACME_DIRECTORY ]] && printf '%s\n' --acme-directory "$ACME_DIRECTORY"
	[[ -n $ACME_CA_ROOT ]] && printf '%s\n' --acme-ca-root "$(acme_ca_root_path)"
	printf '%s\n' --redirect-http
	((HSTS_MAX_AGE > 0)) && printf '%s\n' --hsts "$HSTS_MAX_AGE"
	return 0
}

# The balancer's plain listener: :80 on every interface, always (with a DOMAIN
# it answers ACME's HTTP-01 challenges and redirects everything else).
balancer_listen() { printf '0.0.0.0:80\n'; }

# How the gates reach the balancer on its own host: its base URL, and curl's
# extra arguments (one per line). With a DOMAIN that is HTTPS to the domain,
# resolved to loopback; the certificate is verified there only when it comes
# from Let's Encrypt's production directory (the droplet trusts it), since a
# staging or private CA's certificate cannot be.
balancer_local_url() {
	if [[ -n ${DOMAIN:-} ]]; then
		printf 'https://%s\n' "$DOMAIN"
	else
		printf 'http://127.0.0.1:80\n'
	fi
}
balancer_curl_args() {
	[[ -n ${DOMAIN:-} ]] || return 0
	printf '%s\n' --resolve "$DOMAIN:443:127.0.0.1"
	if ((ACME_STAGING)) || [[ -n $ACME_DIRECTORY ]]; then
		printf '%s\n' --insecure
	fi
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
		local BALANCER_LISTEN BALANCER_BACKENDS="" ADMIN_TOKEN BALANCER_ARGS="" BALANCER_STATE_DIRECTORY arg
		BALANCER_LISTEN="$(balancer_listen)"
		BALANCER_STATE_DIRECTORY="$(acme_state_directory)"
		while read -r arg; do
			BALANCER_ARGS+=" $arg"
		done < <(balancer_tls_args)
		ADMIN_TOKEN="$(secret admin-token)"
		local worker
		for worker in $(worker_hosts); do
			BALANCER_BACKENDS+="$(backend_url "$worker"),"
		done
		BALANCER_BACKENDS=${BALANCER_BACKENDS%,}
		render "$t/balancer.env" "$out/etc/sentiment/balancer.env" 0600
		render "$t/sentiment-balancer.service" "$out/etc/systemd/system/sentiment-balancer.service"
		render "$t/nftables-balancer.nft" "$out/etc/nftables.conf" 0755
		if [[ -n ${DOMAIN:-} && -n $ACME_CA_ROOT ]]; then
			install -D -m 0644 "$ACME_CA_ROOT" "$out$(acme_ca_root_path)"
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
