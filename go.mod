module github.com/wspipe/wspipe

go 1.26.0

require (
	github.com/klauspost/compress v1.20.4
	golang.org/x/net v0.63.0
	golang.org/x/sync v0.25.0
)

require golang.org/x/text v0.44.0 // indirect
