# shellcheck shell=bash
# DigitalOcean resource names, firewall rules and the read-only look-ups that
# make provision/destroy idempotent. Sourced after lib/common.sh.

vpc_name() { printf '%s-vpc\n' "$PROJECT"; }
ssh_key_name() { printf '%s-admin\n' "$PROJECT"; }
firewall_names() { printf '%s-balancer-fw\n%s-worker-fw\n' "$PROJECT" "$PROJECT"; }
project_tags() { printf '%s\n%s-balancer\n%s-worker\n' "$PROJECT" "$PROJECT" "$PROJECT"; }

# A read-only doctl query. In --dry-run it is printed, not run, and answers
# nothing, so the dry run shows every create it would make on a fresh account.
query() {
	if ((DRY_RUN)); then
		run "$DOCTL" "$@"
		return 0
	fi
	"$DOCTL" "$@"
}

# Inbound rules, doctl syntax: space-separated rules of comma-separated fields.
internet='address:0.0.0.0/0,address:::/0'
firewall_inbound_rules() {
	local ssh="protocol:tcp,ports:22,address:$ADMIN_CIDR"
	local mongo="protocol:tcp,ports:27017,address:$VPC_CIDR"
	case $1 in
	"$PROJECT-balancer-fw")
		printf '%s' "protocol:tcp,ports:80,$internet protocol:tcp,ports:443,$internet $ssh $mongo"
		;;
	"$PROJECT-worker-fw")
		printf '%s' "$ssh protocol:tcp,ports:$BACKEND_PORT,address:$VPC_CIDR $mongo"
		;;
	esac
}
firewall_outbound_rules() {
	printf '%s' "protocol:tcp,ports:all,$internet protocol:udp,ports:all,$internet protocol:icmp,$internet"
}
firewall_tag() {
	case $1 in
	"$PROJECT-balancer-fw") printf '%s-balancer' "$PROJECT" ;;
	"$PROJECT-worker-fw") printf '%s-worker' "$PROJECT" ;;
	esac
}

# "name public-ip private-ip" per droplet of the project, as recorded by provision.
inventory_file() { printf '%s/inventory\n' "$STATE_DIR"; }
