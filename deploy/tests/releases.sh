# shellcheck shell=bash
# shellcheck disable=SC2154 # work, deploy and the harness: set by tests/run, which sources this
# deploy/tests: the release binaries' check (sourced by tests/run): only x86-64
# ELF executables whose glibc the droplets have reach a droplet.

binary_verdict() (
	# shellcheck source=../lib/common.sh
	source "$deploy/lib/common.sh"
	# shellcheck source=../lib/release.sh
	source "$deploy/lib/release.sh"
	check_binaries "$@"
)
mkdir -p "$work/binaries"
printf '#!/bin/sh\necho built on a Mac\n' >"$work/binaries/script"
cp "$(type -P true)" "$work/binaries/aarch64"
# e_machine (offset 18) = 0xb7: the same file, now claiming to be AArch64.
printf '\xb7\x00' | dd of="$work/binaries/aarch64" bs=1 seek=18 conv=notrunc status=none
cp /sbin/ldconfig "$work/binaries/static"
cp "$(type -P true)" "$work/binaries/dynamic"
chmod 0755 "$work"/binaries/*
binary_verdict "$work/binaries/script" >"$work/elf.out" 2>&1
expect "release: a script (or a Mach-O from a Mac) is refused as not ELF" has "$work/elf.out" "is not an ELF binary (built on macOS?"
binary_verdict "$work/binaries/aarch64" >"$work/elf.out" 2>&1
expect "release: an ELF for another architecture is refused" bash -c "
	grep -q 'not elf64-x86-64: the droplets are x86-64 Linux' '$work/elf.out'"
binary_verdict "$work/binaries/static" >"$work/elf.out" 2>&1
expect "release: a static binary (no GLIBC symbol) passes as static, not skipped" has "$work/elf.out" "no glibc symbol needed (static)"
binary_verdict "$work/binaries/dynamic" >"$work/elf.out" 2>&1
expect "release: a glibc binary passes with the version it needs" has "$work/elf.out" "ELF x86-64, needs glibc >= 2."
TARGET_GLIBC=2.2 binary_verdict "$work/binaries/dynamic" >"$work/elf.out" 2>&1
expect "release: a binary needing a newer glibc than the droplets' is refused" has "$work/elf.out" "but the droplets have 2.2"
binary_verdict "$work/binaries/missing" >"$work/elf.out" 2>&1
expect "release: a missing binary is named" has "$work/elf.out" "missing release binary $work/binaries/missing"

# What the dry runs below ship: two real x86-64 glibc executables.
mkdir -p "$work/bins"
cp "$(type -P true)" "$work/bins/backend"
cp "$(type -P false)" "$work/bins/balancer"
