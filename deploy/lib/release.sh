# shellcheck shell=bash
# Releases: the binaries (built here, or taken from --bin-dir) and the
# frontend, checked to run on the droplets (ELF x86-64; static, or glibc no
# newer than Ubuntu 24.04's 2.39) and assembled into one tree per role, named
# by a hash of their content so the same build is the same release everywhere.
# Sourced after lib/common.sh.

MUSL_TARGET=x86_64-unknown-linux-musl
TARGET_GLIBC="${TARGET_GLIBC:-2.39}"
RELEASE_ID=""
RELEASE_TREE=""

musl_available() {
	command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET"
}

release_dir() {
	if musl_available; then
		printf '%s/target/%s/release\n' "$REPO_DIR" "$MUSL_TARGET"
	else
		printf '%s/target/release\n' "$REPO_DIR"
	fi
}

build_release() {
	local target_args=()
	musl_available && target_args=(--target "$MUSL_TARGET")
	log "building release binaries (${target_args[1]:-glibc, host target})"
	run cargo build --release --manifest-path "$REPO_DIR/Cargo.toml" -p backend -p balancer "${target_args[@]}"
}

# Refuses what would fail on a droplet with "Exec format error" or a missing
# glibc symbol: anything but an x86-64 ELF executable, or one needing a newer
# glibc than the droplets have. A binary without GLIBC symbols is static.
check_binaries() {
	local binary header needed
	for binary in "$@"; do
		[[ -f $binary && -x $binary ]] || die "missing release binary $binary (build it, or pass --bin-dir)"
		header="$(objdump -f "$binary" 2>/dev/null)" ||
			die "$binary is not an ELF binary (built on macOS? build on Linux x86-64, or in CI, and pass --bin-dir)"
		[[ $header == *"file format elf64-x86-64"* ]] ||
			die "$binary is $(sed -n 's/.*file format //p' <<<"$header" | sed -n 1p), not elf64-x86-64: the droplets are x86-64 Linux"
		needed="$(objdump -T "$binary" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)" || true
		if [[ -z $needed ]]; then
			log "  $(basename "$binary"): ELF x86-64, no glibc symbol needed (static)"
			continue
		fi
		if [[ $(printf '%s\n%s\n' "$needed" "$TARGET_GLIBC" | sort -V | tail -n 1) != "$TARGET_GLIBC" ]]; then
			die "$binary needs glibc $needed but the droplets have $TARGET_GLIBC: build on an older system or for $MUSL_TARGET"
		fi
		log "  $(basename "$binary"): ELF x86-64, needs glibc >= $needed (droplets: $TARGET_GLIBC)"
	done
}

# The static frontend as served: the page's own files only (no node_modules,
# package files or browser tests).
copy_frontend() {
	local source="$REPO_DIR/frontend" target=$1
	[[ -f $source/index.html ]] || die "no frontend at $source"
	rm -rf "$target"
	mkdir -p "$target"
	find "$source" -maxdepth 1 -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.svg' \
		-o -name '*.png' -o -name '*.ico' -o -name '*.webmanifest' \) -exec cp {} "$target/" \;
	chmod -R u=rwX,go=rX "$target"
}

# Assembles $RELEASE_TREE/{worker,balancer} from the binaries in BIN_DIR and
# sets RELEASE_ID. In a dry run without binaries the id is a placeholder.
assemble_release() {
	local bin_dir=$1
	RELEASE_TREE="$WORK_DIR/release"
	if ((DRY_RUN)) && [[ ! -x $bin_dir/backend || ! -x $bin_dir/balancer ]]; then
		RELEASE_ID="dry-run"
		return 0
	fi
	check_binaries "$bin_dir/backend" "$bin_dir/balancer"
	local worker="$RELEASE_TREE/worker" balancer="$RELEASE_TREE/balancer"
	mkdir -p "$worker/bin" "$balancer/bin"
	install -m 0755 "$bin_dir/backend" "$worker/bin/backend"
	install -m 0755 "$bin_dir/balancer" "$balancer/bin/balancer"
	copy_frontend "$worker/frontend"
	RELEASE_ID="$(cd "$RELEASE_TREE" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
	local commit
	commit="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	git -C "$REPO_DIR" diff --quiet HEAD 2>/dev/null || commit+="+changes"
	local role
	for role in worker balancer; do
		printf 'release %s\nsource %s\nbuilt %s by %s\n' "$RELEASE_ID" "$commit" \
			"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${USER:-$(id -un)}@$(hostname)" >"$RELEASE_TREE/$role/RELEASE"
	done
	log "release $RELEASE_ID (source $commit)"
}
