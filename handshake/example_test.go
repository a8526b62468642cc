package handshake_test

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/wspipe/wspipe/handshake"
)

func ExampleAcceptKey() {
	fmt.Println(handshake.AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
	// Output: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}

func ExampleServer_Upgrade() {
	s := &handshake.Server{Subprotocols: []string{"chat"}}
	chosen := make(chan string, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !handshake.IsWebSocketRequest(r) {
			fmt.Fprintln(w, "this is a WebSocket endpoint")
			return
		}
		res, err := s.Upgrade(w, r)
		if err != nil {
			log.Print(err) // the client already got an HTTP error response
			return
		}
		defer res.Conn.Close()
		// Frames start with res.Buffered, then continue on res.Conn.
		chosen <- res.Subprotocol
	})
	ts := httptest.NewServer(handler)
	defer ts.Close()

	// A minimal client, to show the exchange.
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /chat HTTP/1.1\r\nHost: "+ts.Listener.Addr().String()+"\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("client:", resp.Status, resp.Header.Get("Sec-WebSocket-Accept"))
	fmt.Println("server: subprotocol", <-chosen)
	// Output:
	// client: 101 Switching Protocols s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
	// server: subprotocol chat
}

func ExampleServer_UpgradeConn() {
	server, client := net.Pipe()
	go func() {
		fmt.Fprint(client, "GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"+
			"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		bufio.NewReader(client).ReadString('\n') // the 101 status line; a real client reads the rest
	}()

	var s handshake.Server
	res, err := s.UpgradeConn(server)
	if err != nil {
		server.Close()
		log.Fatal(err)
	}
	defer res.Conn.Close()
	fmt.Println(res.Request.Host, len(res.Buffered))
	// Output: example.com 0
}

func ExampleParseExtensions() {
	offers, err := handshake.ParseExtensions([]string{
		`permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits="10"`,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range offers {
		fmt.Printf("%s %+v\n", e.Name, e.Params)
	}
	fmt.Println(handshake.FormatExtensions(offers[1:]))
	// Output:
	// permessage-deflate [{Name:client_max_window_bits Value: HasValue:false}]
	// permessage-deflate [{Name:server_max_window_bits Value:10 HasValue:true}]
	// permessage-deflate; server_max_window_bits=10
}
