#!/usr/bin/env bash
# scripts/test.sh runs wspipe's whole test suite, the browser tests included.
#
# It is meant for a fresh Debian machine as root: it installs what is missing
# (Chromium, nats-server and Python's websockets from Debian, playwright-core
# and ws from the npm lock files) and skips that quickly when everything is already
# there, so it also works for a non-root user on a machine that has them.
#
# Sections, in order, stopping at the first failure:
#   gofmt, go vet, go vet for other platforms (linux/386, linux/arm64,
#   darwin, windows, freebsd) and -tags purego, go test -race, the
#   allocation/size/stack checks that -race skips (on an ordinary build),
#   the examples (each run on a bounded scenario), fuzz (each Fuzz target, FUZZTIME),
#   nested modules (go test in every other directory with a go.mod; in
#   interop/ that runs wspipe against Chromium, Node's ws, Python's
#   websockets, gorilla and coder, WSPIPE_INTEROP=1 making a missing peer a
#   failure instead of a skip; in examples/chat it runs chat nodes over a
#   three-server nats-server cluster, WSPIPE_NATS=1 making a missing
#   nats-server a failure).
#
# Environment:
#   FUZZTIME   how much each fuzz target runs, as go test's -fuzztime: a
#              count of inputs (default 200000x) or a duration (10s); 0
#              skips fuzzing. A count, because with a duration go1.26's
#              fuzzing coordinator can report its own deadline, reached
#              while a worker is mid-input, as the target failing
#              ("context deadline exceeded", no failing input written;
#              golang/go#75804, fixed in go1.27).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PATH="$PATH:/usr/local/go/bin"
export WSPIPE_BROWSER=1
export WSPIPE_INTEROP=1
export WSPIPE_NATS=1
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
FUZZTIME=${FUZZTIME:-200000x}

SCRIPT_START=$SECONDS
SECTION=""
SECTION_START=0
TIMINGS=()

section() {
	end_section
	SECTION=$1
	SECTION_START=$SECONDS
	printf '\n==== %s ====\n' "$SECTION"
}

end_section() {
	if [[ -n $SECTION ]]; then
		TIMINGS+=("$(printf '%-28s %4ds' "$SECTION" $((SECONDS - SECTION_START)))")
	fi
	SECTION=""
}

on_exit() {
	local rc=$?
	if ((rc != 0)); then
		printf '\n==== FAILED in section "%s" (exit %d) after %ds ====\n' "${SECTION:-setup}" "$rc" $((SECONDS - SCRIPT_START)) >&2
	fi
}
trap on_exit EXIT

die() {
	printf 'test.sh: %s\n' "$*" >&2
	exit 1
}

# as_root runs a command as root: directly, or through sudo if it can be used
# without a password.
as_root() {
	if ((EUID == 0)); then
		"$@"
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		die "need root to run '$*'; install the missing packages yourself or run as root"
	fi
}

# ---------------------------------------------------------------------------
section "dependencies"

command -v go >/dev/null || die "go is not installed (expected at /usr/local/go/bin/go)"
go version

apt_packages=()
[[ -x /usr/bin/chromium ]] || apt_packages+=(chromium)
# examples/chat's cluster tests run a three-server NATS cluster.
command -v nats-server >/dev/null || apt_packages+=(nats-server)
dpkg-query -W -f='${Status}' python3-websockets 2>/dev/null | grep -q 'install ok installed' ||
	apt_packages+=(python3-websockets)
command -v node >/dev/null || apt_packages+=(nodejs)
command -v npm >/dev/null || apt_packages+=(npm)

if ((${#apt_packages[@]} > 0)); then
	echo "installing from Debian: ${apt_packages[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_packages[@]}"
else
	echo "Debian packages present: chromium nats-server python3-websockets node npm"
fi
/usr/bin/chromium --version 2>/dev/null || die "/usr/bin/chromium does not run"
nats-server --version || die "nats-server does not run"
echo "node $(node --version), npm $(npm --version)"

# npm ci only when node_modules is missing or older than the lock file:
# the browser driver (test/browser) and the interop peers, Node's ws and
# playwright-core (interop/node).
for dir in test/browser interop/node; do
	if [[ ! -f $dir/node_modules/.package-lock.json ||
		$dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
		echo "npm ci in $dir"
		(cd "$dir" && npm ci --no-audit --no-fund --no-update-notifier)
	else
		echo "$dir/node_modules is up to date"
	fi
done

/usr/bin/python3 -c 'import websockets' ||
	die "/usr/bin/python3 cannot import websockets (the interop tests use Debian's python3-websockets)"

# ---------------------------------------------------------------------------
section "gofmt"

mapfile -t gofiles < <(find . -name '*.go' \
	-not -path './.git/*' -not -path '*/node_modules/*' -not -path '*/testdata/*' | sort)
unformatted=$(gofmt -l "${gofiles[@]}")
if [[ -n $unformatted ]]; then
	echo "these files need gofmt:" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "${#gofiles[@]} files formatted"

# ---------------------------------------------------------------------------
section "go vet"
go vet ./...
go mod tidy -diff # go.mod and go.sum say exactly what the code imports

# ---------------------------------------------------------------------------
section "other platforms"
# The module builds and vets (test files included) where users run it: the
# socket code has a file per build set, and a missing one shows only there.
for target in linux/386 linux/arm64 darwin/arm64 windows/amd64 freebsd/amd64; do
	echo "--- $target"
	GOOS=${target%/*} GOARCH=${target#*/} go vet ./...
done
echo "--- -tags purego"
go vet -tags purego ./...

# ---------------------------------------------------------------------------
section "go test -race"
echo "WSPIPE_BROWSER=1: cmd/echo's TestBrowser and TestBrowserHTTP2 (HTTPS, WebSockets over HTTP/2) drive /usr/bin/chromium through test/browser/run.mjs"
go test -race -count=1 ./...

# ---------------------------------------------------------------------------
section "go test, the checks -race skips"
# Allocation counts, size classes and stack depth differ under -race (its
# instrumentation allocates, sync.Pool drops items, frames grow), so those
# tests skip there; they run here on an ordinary build.
go test -count=1 -run 'Alloc|SizeClass|Size$|FitsStarting' ./...

# ---------------------------------------------------------------------------
section "examples"
# Each example runs as a user would run it, on a bounded scenario; its
# output is checked. (examples/chat is a module of its own: its tests run
# in "nested modules" below.)
out=$(timeout 120 go run ./examples/counter)
echo "$out"
[[ $out == "server saw 3 messages, 1008 bytes in, 1008 bytes out" ]] ||
	die "examples/counter printed an unexpected count"
out=$(timeout 120 go run ./examples/streamfile -size 16777216)
echo "$out"
[[ $out == "streamed 16777216 bytes there and back, checksums match: true,"* ]] ||
	die "examples/streamfile did not stream 16 MiB back intact"

# ---------------------------------------------------------------------------
section "fuzz ($FUZZTIME each)"

# fuzz_target runs one fuzz target. A failure counts only if the input it
# wrote under testdata/fuzz/<name>/ reproduces it (go test -run=Name/ID):
# then the run fails, and that file is to be committed as a regression
# seed. On a loaded machine go1.26's engine can also fail with no input at
# all ("fuzzing process hung or terminated unexpectedly", a worker that
# stalled, at 0 execs/s), or with an input that passes when run again:
# that says nothing about the code, so the target is run again, up to
# twice, and the stall is reported.
fuzz_target() {
	local pkg=$1 name=$2 dir log attempt before after f id
	dir="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name"
	log=$(mktemp)
	for attempt in 1 2 3; do
		before=$(find "$dir" -type f 2>/dev/null | sort || true)
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
			cat "$log"
			rm -f "$log"
			return 0
		fi
		cat "$log"
		after=$(find "$dir" -type f 2>/dev/null | sort || true)
		for f in $(comm -13 <(echo "$before") <(echo "$after")); do
			id=$(basename "$f")
			if ! go test -count=1 -run "^${name}/${id}\$" "$pkg"; then
				echo "test.sh: $name fails on $f: commit it as a regression seed" >&2
				rm -f "$log"
				return 1
			fi
			echo "test.sh: $name: the input it wrote ($id) passes when run again; not a failure"
			rm -f "$f"
		done
		if [[ -z $(comm -13 <(echo "$before") <(echo "$after")) ]] &&
			! grep -q 'hung or terminated unexpectedly\|context deadline exceeded' "$log"; then
			rm -f "$log"
			return 1 # a failure of another kind
		fi
		echo "test.sh: $name: the fuzzing engine failed without a reproducing input (attempt $attempt of 3)"
	done
	echo "test.sh: $name failed three times without a reproducing input" >&2
	rm -f "$log"
	return 1
}

if [[ $FUZZTIME == 0 || $FUZZTIME == 0s || $FUZZTIME == 0x ]]; then
	echo "FUZZTIME=$FUZZTIME: skipped"
else
	# go test -list prints a package's matching names, then its "ok" line.
	list=$(go test -list '^Fuzz' ./...)
	mapfile -t targets < <(awk '
		/^Fuzz/ { names[n++] = $1; next }
		/^ok/   { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
	' <<<"$list")
	echo "${#targets[@]} fuzz targets"
	for t in "${targets[@]}"; do
		read -r pkg name <<<"$t"
		echo "--- $name ($pkg)"
		fuzz_target "$pkg" "$name"
	done
fi

# ---------------------------------------------------------------------------
section "nested modules"

mapfile -t modules < <(find . -mindepth 2 -name go.mod \
	-not -path './.git/*' -not -path '*/node_modules/*' -not -path '*/testdata/*' -printf '%h\n' | sort)
if ((${#modules[@]} == 0)); then
	echo "none"
fi
for m in "${modules[@]}"; do
	echo "--- ${m#./}"
	(cd "$m" && go test -count=1 ./...)
done

end_section
printf '\n==== timings ====\n'
printf '%s\n' "${TIMINGS[@]}"
printf '%-28s %4ds\n' "total" $((SECONDS - SCRIPT_START))
echo "all sections passed"
