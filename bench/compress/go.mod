module github.com/wspipe/wspipe/bench/compress

go 1.26.0

replace github.com/wspipe/wspipe => ../../

require (
	github.com/coder/websocket v1.8.15
	github.com/gorilla/websocket v1.5.3
	github.com/lxzan/gws v1.8.9
	github.com/wspipe/wspipe v0.0.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	golang.org/x/net v0.63.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
