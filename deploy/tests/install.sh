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

DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org "$deploy/install" --dry-run --bin-dir "$work/bins" >"$install_out" 2>&1
shown sentiment-balancer /etc/systemd/system/sentiment-balancer.service
expect "with a domain the balancer keeps no capability (nginx owns :80/:443)" has_line "$work/shown" "CapabilityBoundingSet="
shown sentiment-balancer /etc/sentiment/balancer.env
expect "with a domain the balancer listens on loopback" has_line "$work/shown" "BALANCER_LISTEN=127.0.0.1:8080"
expect "with a domain the balancer's gate goes to its loopback listener" has "$install_out" "http://127.0.0.1:8080/analyze"
expect "with a domain certbot obtains the certificate" has "$install_out" "certbot certonly --webroot -w /var/www/acme -d sentiment.example.org"
shown sentiment-balancer /etc/nginx/sites-available/sentiment-tls.conf
expect "with a domain nginx serves TLS with the Let's Encrypt certificate" \
	has "$work/shown" "ssl_certificate /etc/letsencrypt/live/sentiment.example.org/fullchain.pem;"
DOMAIN=sentiment.example.org "$deploy/install" --dry-run >"$work/noemail.out" 2>&1
expect "a domain without ACME_EMAIL is refused" has "$work/noemail.out" "set ACME_EMAIL"

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
