module github.com/wspipe/wspipe

go 1.26.0

require (
	github.com/klauspost/compress v1.20.4
	golang.org/x/sync v0.25.0
)
