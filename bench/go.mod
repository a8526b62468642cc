module github.com/wspipe/wspipe/bench

go 1.26.0

require (
	github.com/gorilla/websocket v1.5.3
	github.com/wspipe/wspipe v0.0.0
)

require golang.org/x/sync v0.25.0 // indirect

replace github.com/wspipe/wspipe => ../
