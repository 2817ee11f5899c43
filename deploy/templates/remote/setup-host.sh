#!/usr/bin/env bash
# Runs as root on a droplet, from the bundle deploy/install uploaded: puts the
# rendered files in place with their owners and modes, loads the host
# firewall, (re)starts mongod and enables the role's unit. Safe to re-run.
# Usage: setup-host.sh balancer|worker  (from inside the unpacked bundle)
set -euo pipefail
role=$1
bundle="$(cd "$(dirname "$0")" && pwd)"

# cloud-init installs MongoDB and creates the users: wait until it is done.
cloud-init status --wait >/dev/null

# Rendered files keep the mode they were rendered with (0600 for env files).
(cd "$bundle/root" && find . -type f) | while read -r file; do
	target="/${file#./}"
	install -D -o root -g root -m "$(stat -c %a "$bundle/root/$file")" "$bundle/root/$file" "$target"
done
chown mongodb:mongodb /etc/mongodb/keyfile
chmod 0400 /etc/mongodb/keyfile

install -d -o root -g root -m 0755 /opt/sentiment/bin
install -o root -g root -m 0755 "$bundle/bin/"* /opt/sentiment/bin/
rm -rf /opt/sentiment/frontend.new
cp -r "$bundle/frontend" /opt/sentiment/frontend.new
chown -R root:root /opt/sentiment/frontend.new
chmod -R u=rwX,go=rX /opt/sentiment/frontend.new
rm -rf /opt/sentiment/frontend
mv /opt/sentiment/frontend.new /opt/sentiment/frontend

nft -f /etc/nftables.conf
systemctl enable nftables

systemctl enable mongod
systemctl restart mongod

# With a domain the bundle carries nginx sites: nginx terminates TLS.
if [[ $role == balancer && -d $bundle/root/etc/nginx ]]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y nginx certbot
	install -d -m 0755 /var/www/acme
	rm -f /etc/nginx/sites-enabled/default
fi

systemctl daemon-reload
unit=sentiment-backend.service
[[ $role == balancer ]] && unit=sentiment-balancer.service
systemctl enable "$unit"
