# shellcheck shell=bash
# shellcheck disable=SC2154 # work, deploy and the harness: set by tests/run, which sources this
# deploy/tests: deploy/install --dry-run (sourced by tests/run): what every
# host receives (units, env files, mongod.conf, keyFile, firewall, backup
# timer, helper scripts), the replica-set script, the order of the steps, and
# that a failed install leaves no rendered secret behind.

install_out="$work/install.out"
"$deploy/install" --dry-run --bin-dir "$work/bins" >"$install_out" 2>"$work/install.err"
status=$?
expect "install --dry-run exits 0" test "$status" -eq 0
# shown HOST PATH: the body of one rendered file from the dry run.
shown() {
	sed -n "\|^--- file: $1:$2 |,\|^--- end: $1:$2\$|p" "$install_out" >"$work/shown"
	[[ -s $work/shown ]]
}
hardened() {
	local line
	for line in User=sentiment NoNewPrivileges=true ProtectSystem=strict ProtectHome=true PrivateTmp=true \
		Restart=on-failure UMask=0077; do
		has_line "$work/shown" "$line" || {
			echo "missing $line"
			return 1
		}
	done
}
for host in sentiment-worker-1 sentiment-worker-2; do
	shown "$host" /etc/systemd/system/sentiment-backend.service
	expect "$host backend unit: hardening lines" hardened
	expect "$host backend unit: no capability at all" has_line "$work/shown" "CapabilityBoundingSet="
	expect "$host backend unit: no CAP_NET_BIND_SERVICE" lacks "$work/shown" CAP_NET_BIND_SERVICE
	expect "$host backend unit: LimitNOFILE=32768" has_line "$work/shown" "LimitNOFILE=32768"
	expect "$host backend unit: runs the current release" has_line "$work/shown" "ExecStart=/opt/sentiment/current/bin/backend"
	shown "$host" /etc/sentiment/backend.env
	expect "$host backend.env is mode 0600" has "$work/shown" "(mode 600)"
	expect "$host backend.env: replica-set URI, app user, majority writes" \
		grep -qE '^BACKEND_MONGODB_URI=mongodb://app:[^@]+@10\.10\.10\.2:27017,10\.10\.10\.3:27017,10\.10\.10\.4:27017/sentiment\?replicaSet=rs0&authSource=sentiment&w=majority$' "$work/shown"
	expect "$host backend.env: majority write concern" has_line "$work/shown" "BACKEND_MONGODB_WRITE_CONCERN=majority"
	expect "$host backend.env: binds the VPC address" grep -qE '^BACKEND_HOST=10\.10\.10\.[34]$' "$work/shown"
	expect "$host backend.env: serves the current release's frontend" has_line "$work/shown" "BACKEND_STATIC_DIR=/opt/sentiment/current/frontend"
	shown "$host" /etc/nftables.conf
	expect "$host firewall: backend port from the balancer only" has "$work/shown" "tcp dport 8080 ip saddr 10.10.10.2 accept"
	expect "$host firewall: default drop" has "$work/shown" "policy drop;"
	expect "$host firewall: SSH left to the cloud firewall (a changed ADMIN_CIDR cannot lock the admin out)" \
		bash -c "grep -qxF '		tcp dport 22 accept' '$work/shown' && ! grep -q 198.51.100.7 '$work/shown'"
done
shown sentiment-balancer /etc/systemd/system/sentiment-balancer.service
expect "balancer unit: hardening lines" hardened
expect "balancer unit: CAP_NET_BIND_SERVICE only" has_line "$work/shown" "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"
expect "balancer unit: ambient CAP_NET_BIND_SERVICE" has_line "$work/shown" "AmbientCapabilities=CAP_NET_BIND_SERVICE"
expect "balancer unit: no secret on the command line" lacks "$work/shown" "admin-token"
expect "balancer unit: LimitNOFILE=65536 (20,000 clients, each with an upstream socket)" has_line "$work/shown" "LimitNOFILE=65536"
expect "balancer unit: runs the current release" has_line "$work/shown" "ExecStart=/opt/sentiment/current/bin/balancer"
shown sentiment-balancer /etc/sentiment/balancer.env
expect "balancer.env is mode 0600" has "$work/shown" "(mode 600)"
expect "balancer.env: public :80, admin on loopback" has_line "$work/shown" "BALANCER_ADMIN_LISTEN=127.0.0.1:8081"
expect "balancer.env: both workers by VPC address" has_line "$work/shown" "BALANCER_BACKENDS=http://10.10.10.3:8080,http://10.10.10.4:8080"
shown sentiment-balancer /etc/nftables.conf
expect "balancer firewall: 80/443 open, SSH through" \
	bash -c "grep -qF 'tcp dport { 80, 443 } accept' '$work/shown' && grep -qxF '		tcp dport 22 accept' '$work/shown'"
shown sentiment-balancer /etc/sentiment/backup.env
expect "balancer backup.env: the backup user's password, mode 0600" \
	bash -c "grep -q '(mode 600)' '$work/shown' && grep -qx 'MONGODB_BACKUP_PASSWORD=<mongodb-backup-password>' '$work/shown'"
shown sentiment-balancer /etc/systemd/system/sentiment-backup.timer
expect "balancer: a daily backup timer, caught up after downtime" \
	bash -c "grep -qx 'OnCalendar=daily' '$work/shown' && grep -qx 'Persistent=true' '$work/shown'"
shown sentiment-balancer /etc/systemd/system/sentiment-backup.service
expect "balancer: the backup service keeps the newest BACKUP_KEEP (7) dumps" has_line "$work/shown" "ExecStart=/usr/local/sbin/sentiment-backup --keep 7"
shown sentiment-balancer /usr/local/sbin/sentiment-backup
expect "balancer: sentiment-backup installed executable" has "$work/shown" "(mode 755)"
for host in sentiment-balancer sentiment-worker-1 sentiment-worker-2; do
	shown "$host" /usr/local/sbin/sentiment-release
	expect "$host: sentiment-release installed executable" has "$work/shown" "(mode 755)"
done
for host in sentiment-balancer sentiment-worker-1; do
	shown "$host" /etc/mongod.conf
	expect "$host mongod.conf: loopback + VPC address only" grep -qE '^  bindIp: 127\.0\.0\.1,10\.10\.10\.[23]$' "$work/shown"
	expect "$host mongod.conf: never all interfaces" lacks "$work/shown" "0.0.0.0"
	expect "$host mongod.conf: keyFile auth, authorization, rs0, small cache" bash -c \
		"grep -q 'keyFile: /etc/mongodb/keyfile' '$work/shown' && grep -q 'authorization: enabled' '$work/shown' && grep -q 'replSetName: rs0' '$work/shown' && grep -q 'cacheSizeGB: 0.25' '$work/shown'"
	shown "$host" /etc/mongodb/keyfile
	expect "$host keyfile is mode 0400" has "$work/shown" "(mode 400)"
done

sed -n '/^--- file: rs-init.js/,/^--- end: rs-init.js/p' "$install_out" | sed '1d;$d' >"$work/rs-init.js"
expect "rs-init: three members on the VPC" has "$work/rs-init.js" "{ _id: 2, host: '10.10.10.4:27017' }"
expect "rs-init: reaches the primary through the replica-set URI" \
	has "$work/rs-init.js" "const replSetUri = 'mongodb://10.10.10.2:27017,10.10.10.3:27017,10.10.10.4:27017/?replicaSet=rs0';"
expect "rs-init: the first root user only on the primary, through the localhost exception" bash -c "
	grep -q 'if (hello.primary !== hello.me)' '$work/rs-init.js' && grep -q 'PRIMARY_ELSEWHERE' '$work/rs-init.js' &&
	grep -q 'quit(3)' '$work/rs-init.js'"
expect "rs-init: app user has readWrite on the app database only" \
	has "$work/rs-init.js" "[{ role: 'readWrite', db: 'sentiment' }]"
expect "rs-init: a backup user with the backup role" has "$work/rs-init.js" "'backup', '<mongodb-backup-password>', [{ role: 'backup', db: 'admin' }]"
expect "rs-init: is valid JavaScript (node --check)" node --check "$work/rs-init.js"
expect "rs-init is piped to mongosh over ssh stdin, never written remotely" \
	has "$install_out" "'sudo -- mongosh --quiet --norc --nodb --file /dev/stdin'"
expect "install dry run shows no placeholder" lacks "$install_out" "@@"
order="$(grep -oE "setup-host.sh [a-z]+ sentiment sentiment-[a-z0-9-]+|sudo -- mongosh --quiet|systemctl restart sentiment-[a-z]+" "$install_out" | paste -sd'|')"
expect "install: every host set up, then the replica set, then the services one at a time (workers, then the balancer)" test "$order" = \
	"setup-host.sh balancer sentiment sentiment-balancer|setup-host.sh worker sentiment sentiment-worker-1|setup-host.sh worker sentiment sentiment-worker-2|sudo -- mongosh --quiet|systemctl restart sentiment-backend|systemctl restart sentiment-backend|systemctl restart sentiment-balancer"
expect "install: each service is gated (readyz, a real POST /analyze, GET /history)" \
	test "$(grep -c "/analyze'$" "$install_out")" -eq 3

WORKERS=3 "$deploy/install" --dry-run --bin-dir "$work/bins" >"$install_out" 2>&1
expect "WORKERS=3: mongod on three hosts only (the replica set stays at three members)" \
	test "$(grep -c '^--- file: .*:/etc/mongod.conf ' "$install_out")" -eq 3
expect "WORKERS=3: no mongod on worker-3" lacks "$install_out" "--- file: sentiment-worker-3:/etc/mongod.conf"
shown sentiment-worker-3 /etc/sentiment/backend.env
expect "WORKERS=3: worker-3 uses the three-member replica set" \
	grep -qE '@10\.10\.10\.2:27017,10\.10\.10\.3:27017,10\.10\.10\.4:27017/sentiment\?replicaSet=rs0' "$work/shown"
shown sentiment-balancer /etc/sentiment/balancer.env
expect "WORKERS=3: the balancer lists three workers" has_line "$work/shown" "BALANCER_BACKENDS=http://10.10.10.3:8080,http://10.10.10.4:8080,http://10.10.10.5:8080"

echo "# install --dry-run: TLS in the balancer itself (DOMAIN)"
# No DOMAIN (the run at the top): plain HTTP on :80, the unit already fit for TLS.
"$deploy/install" --dry-run --bin-dir "$work/bins" >"$install_out" 2>&1
shown sentiment-balancer /etc/systemd/system/sentiment-balancer.service
expect "no domain: the balancer runs with no TLS flag" has_line "$work/shown" "ExecStart=/opt/sentiment/current/bin/balancer"
expect "no domain: the ACME state directory exists anyway (0700), so adding DOMAIN changes one line" \
	bash -c "grep -qx 'StateDirectory=sentiment-balancer' '$work/shown' && grep -qx 'StateDirectoryMode=0700' '$work/shown'"
cp "$work/shown" "$work/unit-without-domain"
shown sentiment-balancer /etc/sentiment/balancer.env
cp "$work/shown" "$work/env-without-domain"
expect "no domain: the gate talks plain HTTP to :80" has "$install_out" "http://127.0.0.1:80/analyze"
expect "no domain: no DNS check, no certificate" bash -c "! grep -q 'must resolve to' '$install_out' && ! grep -q 'certs' '$install_out'"

DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org "$deploy/install" --dry-run --bin-dir "$work/bins" >"$install_out" 2>&1
status=$?
expect "with a domain: install --dry-run exits 0" test "$status" -eq 0
shown sentiment-balancer /etc/systemd/system/sentiment-balancer.service
expect "with a domain: HTTPS on :443, its certificate over ACME from Let's Encrypt, HTTP redirected, HSTS a year" has_line "$work/shown" \
	"ExecStart=/opt/sentiment/current/bin/balancer --tls-listen 0.0.0.0:443 --acme-domain sentiment.example.org --acme-contact mailto:ops@example.org --acme-state-dir /var/lib/sentiment-balancer --redirect-http --hsts 31536000"
expect "with a domain: the unit keeps CAP_NET_BIND_SERVICE, bounding and ambient (ports 80 and 443)" bash -c "
	grep -qx 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' '$work/shown' && grep -qx 'AmbientCapabilities=CAP_NET_BIND_SERVICE' '$work/shown'"
expect "with a domain: ProtectSystem=strict, the ACME state in its StateDirectory" bash -c "
	grep -qx 'ProtectSystem=strict' '$work/shown' && grep -qx 'StateDirectory=sentiment-balancer' '$work/shown'"
unit_diff="$(diff "$work/unit-without-domain" "$work/shown" | grep -c '^[<>]')"
expect "with a domain: the unit differs from the plain one in ExecStart only" test "$unit_diff" -eq 2
shown sentiment-balancer /etc/sentiment/balancer.env
expect "with a domain: the balancer itself listens on :80 (HTTP-01, redirect)" has_line "$work/shown" "BALANCER_LISTEN=0.0.0.0:80"
expect "with a domain: balancer.env is the same as without (only the unit changes)" cmp -s "$work/env-without-domain" "$work/shown"
expect "with a domain: install checks first that the name resolves to the balancer" \
	has "$install_out" "sentiment.example.org must resolve to 203.0.113.10 (the balancer)"
expect "with a domain: the balancer's gate goes over HTTPS to the domain on loopback, verified (Let's Encrypt)" bash -c "
	grep -- '--resolve sentiment.example.org:443:127.0.0.1 ' '$install_out' | grep -q 'https://sentiment.example.org/analyze' &&
	! grep -q -- --insecure '$install_out'"
expect "with a domain: install reports the certificate served" bash -c "grep -F '%{certs}' '$install_out' | grep -q 'https://sentiment.example.org/healthz'"
expect "with a domain: the workers' gates stay plain HTTP on the VPC" has "$install_out" "http://10.10.10.3:8080/analyze"
expect "no nginx, no certbot anywhere in install" bash -c "! grep -qiE 'nginx|certbot|letsencrypt/live' '$install_out'"
expect "no nginx or certbot template left in deploy/templates" bash -c "! grep -rqiE 'nginx|certbot' '$deploy/templates' --exclude=setup-host.sh"

DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org ACME_STAGING=1 HSTS_MAX_AGE=0 \
	"$deploy/install" --dry-run --bin-dir "$work/bins" >"$install_out" 2>&1
shown sentiment-balancer /etc/systemd/system/sentiment-balancer.service
expect "ACME_STAGING=1: Let's Encrypt's staging directory; HSTS_MAX_AGE=0: no HSTS" has_line "$work/shown" \
	"ExecStart=/opt/sentiment/current/bin/balancer --tls-listen 0.0.0.0:443 --acme-domain sentiment.example.org --acme-contact mailto:ops@example.org --acme-state-dir /var/lib/sentiment-balancer --acme-staging --redirect-http"
expect "ACME_STAGING=1: the gate cannot verify a staging certificate (--insecure, loopback only)" \
	has "$install_out" "--resolve sentiment.example.org:443:127.0.0.1 --insecure"

printf -- '-----BEGIN CERTIFICATE-----\ntest root\n-----END CERTIFICATE-----\n' >"$work/test-root.pem"
DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org ACME_DIRECTORY=https://10.0.0.1:14000/dir ACME_CA_ROOT="$work/test-root.pem" \
	"$deploy/install" --dry-run --bin-dir "$work/bins" >"$install_out" 2>&1
shown sentiment-balancer /etc/systemd/system/sentiment-balancer.service
expect "ACME_DIRECTORY + ACME_CA_ROOT: another ACME server, its root trusted from the shipped file" has_line "$work/shown" \
	"ExecStart=/opt/sentiment/current/bin/balancer --tls-listen 0.0.0.0:443 --acme-domain sentiment.example.org --acme-contact mailto:ops@example.org --acme-state-dir /var/lib/sentiment-balancer --acme-directory https://10.0.0.1:14000/dir --acme-ca-root /etc/ssl/sentiment/acme-ca-root.pem --redirect-http --hsts 31536000"
shown sentiment-balancer /etc/ssl/sentiment/acme-ca-root.pem
expect "ACME_CA_ROOT: shipped world-readable (the balancer runs unprivileged), unchanged" bash -c "
	grep -q '(mode 644)' '$work/shown' && sed '1d;\$d' '$work/shown' | cmp -s - '$work/test-root.pem'"

refused() {
	env "${@:2}" "$deploy/install" --dry-run --bin-dir "$work/bins" >"$work/refused.out" 2>&1 && return 1
	has "$work/refused.out" "$1"
}
expect "a domain without ACME_EMAIL is refused" refused "set ACME_EMAIL" DOMAIN=sentiment.example.org
expect "a DOMAIN with a scheme is refused" refused "DOMAIN must be a lowercase host name" DOMAIN=https://sentiment.example.org ACME_EMAIL=ops@example.org
expect "an ACME_EMAIL systemd would expand is refused" refused "ACME_EMAIL is not a plain e-mail address" DOMAIN=sentiment.example.org "ACME_EMAIL=o\$ps@example.org"
expect "an ACME_CA_ROOT that is no file is refused" refused "ACME_CA_ROOT in" DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org ACME_CA_ROOT="$work/none.pem"
expect "ACME_STAGING with ACME_DIRECTORY is refused" refused "set one" DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org ACME_STAGING=1 ACME_DIRECTORY=https://10.0.0.1/dir

# The DNS check of a real install (before anything is uploaded): getent answers as DNS would.
mkdir -p "$work/dns-bin"
# shellcheck disable=SC2016 # the stub's own expansions
printf '#!/bin/sh\n[ "$1" = ahostsv4 ] && [ "$2" = sentiment.example.org ] && [ -n "$FAKE_A" ] && echo "$FAKE_A STREAM sentiment.example.org" && exit 0\nexit 2\n' >"$work/dns-bin/getent"
chmod 0755 "$work/dns-bin/getent"
dns_install() {
	: >"$FAKE_SSH_LOG"
	PATH="$work/dns-bin:$PATH" FAKE_A=$1 DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org \
		DEPLOY_SECRETS_DIR="$work/dns-secrets" DEPLOY_INVENTORY="$work/inventory.kept" FAKE_SSH_STATUS=255 \
		"$deploy/install" --bin-dir "$work/bins" >"$work/dns.out" 2>&1
}
dns_install 198.51.100.99
expect "DOMAIN resolving elsewhere: install stops before touching any host, saying where to point it" bash -c "
	grep -q 'sentiment.example.org resolves to 198.51.100.99, not to the balancer.s 203.0.113.11' '$work/dns.out' && ! grep -q 'sudo' '$FAKE_SSH_LOG'"
dns_install ""
expect "DOMAIN not resolving: install says to create the A record and how to check it" bash -c "
	grep -q 'does not resolve (yet): create an A record for it pointing at 203.0.113.11' '$work/dns.out' &&
	grep -q 'dig +short A sentiment.example.org' '$work/dns.out' && ! grep -q 'sudo' '$FAKE_SSH_LOG'"
dns_install 203.0.113.11
expect "DOMAIN resolving to the balancer: install goes on to the hosts" bash -c "
	grep -q 'sentiment.example.org resolves to 203.0.113.11 (the balancer)' '$work/dns.out' && grep -q '^scp ' '$FAKE_SSH_LOG'"

# A real (not dry) install whose hosts fail after the secrets were rendered.
: >"$FAKE_SSH_LOG"
mkdir -p "$work/failing-secrets"
DEPLOY_SECRETS_DIR="$work/failing-secrets" DEPLOY_INVENTORY="$work/inventory.kept" FAKE_SSH_STATUS=255 \
	"$deploy/install" --bin-dir "$work/bins" >"$work/failing.out" 2>&1
status=$?
expect "a failing install exits non-zero, naming the host" \
	bash -c "[[ $status != 0 ]] && grep -q 'sentiment-balancer: could not upload its files' '$work/failing.out'"
expect "  ... after shipping the rendered files (with secrets)" grep -q '^scp .*build/hosts/sentiment-balancer ' "$FAKE_SSH_LOG"
expect "  ... and leaves none of them on this machine" test -z "$(ls -A "$work/tmp")"
expect "  ... nor in deploy/.build (no longer used)" test ! -e "$deploy/.build"
