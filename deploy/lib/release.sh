# shellcheck shell=bash
# Release binaries for x86_64 Linux droplets. With the x86_64-unknown-linux-musl
# target installed they are static; otherwise they are the host's glibc build,
# checked to need no newer glibc than the droplets' Ubuntu (24.04 ships 2.39).
# Sourced after lib/common.sh.

MUSL_TARGET=x86_64-unknown-linux-musl
TARGET_GLIBC="${TARGET_GLIBC:-2.39}"

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
	((DRY_RUN)) || check_glibc "$(release_dir)/backend" "$(release_dir)/balancer"
}

# Refuses binaries that need a newer glibc than the droplets have.
check_glibc() {
	local binary needed
	for binary in "$@"; do
		[[ -x $binary ]] || die "missing release binary $binary"
		needed="$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)"
		[[ -z $needed ]] && continue
		if [[ $(printf '%s\n%s\n' "$needed" "$TARGET_GLIBC" | sort -V | tail -n 1) != "$TARGET_GLIBC" ]]; then
			die "$binary needs glibc $needed but the droplets have $TARGET_GLIBC"
		fi
		log "  $(basename "$binary"): needs glibc >= $needed (droplets: $TARGET_GLIBC)"
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
