#!/usr/bin/env bash
# Idempotency claim + complete on Redis, side by side with redis-benchmark's
# plain SET at the same concurrency (the README's yardstick). The two are run
# interleaved, round after round, so that a noisy neighbour hits both; the
# table gives the median of each over the rounds and their ratio.
#
# The Go benchmark runs twice per round: with GOMAXPROCS=1 (one thread of
# execution, like redis-benchmark, which is single-threaded) and with
# GOMAXPROCS=2 (both cores of the test machine, which Redis also needs: on a
# 2-core machine the Go scheduler's idle Ps spin and take CPU time from the
# server). The clients alone (bench/peers: go-redis as baldur's store
# configures it, and rueidis) run the same command pair at GOMAXPROCS=2.
#
#   bench/idem-redis.sh [rounds]      (default 5; Redis on 127.0.0.1:6379)
set -euo pipefail
rounds=${1:-5}
addr=${BALDUR_TEST_REDIS_ADDR:-127.0.0.1:6379}
host=${addr%:*} port=${addr##*:}
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found (Debian: redis-tools)" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/idem.test peers=$tmp/peers.test
(cd "$root" && go test -c -o "$bin" ./runtime/idem)
(cd "$root/bench/peers" && go test -c -o "$peers" .)

# opsps binary bench: runs one benchmark and prints its ops/s.
opsps() {
	local dir=$1 bin=$2
	shift 2
	(cd "$dir" && "$bin" -test.run '^$' -test.benchtime 20000x "$@") |
		awk '/ops\/s/ {for (i = 1; i <= NF; i++) if ($(i+1) == "ops/s") print $i}'
}

declare -A sets res
for r in $(seq "$rounds"); do
	for c in 1 8 64; do
		s=$(redis-benchmark -h "$host" -p "$port" -t set -c "$c" -n 50000 --csv | awk -F'"' '/^"SET"/ {print $4}')
		sets[$c]+="$s "
		for procs in 1 2; do
			for p in on off; do
				v=$(opsps "$root/runtime/idem" "$bin" -test.cpu "$procs" -test.bench "RedisClaimComplete/autopipeline=$p/callers=$c\$")
				res[$c,$procs,$p]+="$v "
			done
		done
		for client in GoRedis Rueidis; do
			v=$(opsps "$root/bench/peers" "$peers" -test.cpu 2 -test.bench "${client}Pair/callers=$c\$")
			res[$c,$client]+="$v "
		done
	done
	echo "round $r/$rounds done" >&2
done

ratio() { awk -v a="$1" -v s="$2" 'BEGIN {printf "%.0f | %.2f", a, a / s}'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
printf '| callers | redis-benchmark SET/s | client | GOMAXPROCS | claim+complete/s | ratio |\n'
printf '|---|---|---|---|---|---|\n'
for c in 1 8 64; do
	s=$(echo "${sets[$c]}" | median)
	for procs in 1 2; do
		printf '| %d | %.0f | baldur | %d | %s |\n' "$c" "$s" "$procs" "$(ratio "$(echo "${res[$c,$procs,on]}" | median)" "$s")"
		printf '| %d | %.0f | baldur, NoAutoPipeline | %d | %s |\n' "$c" "$s" "$procs" "$(ratio "$(echo "${res[$c,$procs,off]}" | median)" "$s")"
	done
	for client in GoRedis Rueidis; do
		printf '| %d | %.0f | %s alone | 2 | %s |\n' "$c" "$s" "$client" "$(ratio "$(echo "${res[$c,$client]}" | median)" "$s")"
	done
done
{
	echo "medians of $rounds interleaved rounds; per-round values:"
	for c in 1 8 64; do
		echo "  callers=$c SET: ${sets[$c]}"
		for procs in 1 2; do echo "  callers=$c GOMAXPROCS=$procs on: ${res[$c,$procs,on]}| off: ${res[$c,$procs,off]}"; done
		echo "  callers=$c go-redis alone: ${res[$c,GoRedis]}| rueidis alone: ${res[$c,Rueidis]}"
	done
} >&2
