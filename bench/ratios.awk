#!/usr/bin/awk -f
# ratios.awk summarises `go test -bench=Echo -benchmem -count=N` output:
# per size, the median and the best ns/op of each library, and the
# wspipe/gorilla ratios of both (below 1: wspipe takes less time).
#
#	go test -bench=. -benchmem -count=10 . | awk -f ratios.awk
/^BenchmarkEcho\// {
	split($1, p, "/")      # BenchmarkEcho, lib, size-GOMAXPROCS
	lib = p[2]; size = p[3]; sub(/-[0-9]+$/, "", size)
	k = lib SUBSEP size
	v[k, ++n[k]] = $3      # ns/op
	for (i = 4; i < NF; i++) if ($(i+1) == "allocs/op") allocs[k] = $i
	if (!(size in seen)) { seen[size] = 1; order[++nsizes] = size }
}
function median(k,    m, i, j, t, a) {
	m = n[k]
	for (i = 1; i <= m; i++) a[i] = v[k, i] + 0
	for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	best[k] = a[1]
	return m % 2 ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
}
END {
	printf "%-6s %5s %14s %14s %8s %14s %14s %8s %13s\n", "size", "runs", "wspipe med ns", "gorilla med ns", "ratio", "wspipe best", "gorilla best", "ratio", "allocs w/g"
	for (s = 1; s <= nsizes; s++) {
		size = order[s]; w = "wspipe" SUBSEP size; g = "gorilla" SUBSEP size
		if (!n[w] || !n[g]) continue
		mw = median(w); mg = median(g)
		printf "%-6s %5d %14.0f %14.0f %8.2f %14.0f %14.0f %8.2f %6s/%-6s\n", size, n[w], mw, mg, mw/mg, best[w], best[g], best[w]/best[g], allocs[w], allocs[g]
	}
}
