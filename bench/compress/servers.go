package compress

import (
	"context"
	"fmt"
	"io"
	"net/http"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// maxMessage is the message limit every server gets: wspipe's default,
// set explicitly where a library's default is lower (coder's 32 KiB would
// refuse the 64 KiB messages).
const maxMessage = 32 << 20

// Server is one echo server configuration under test.
type Server struct {
	// Name identifies it in tables, flags and the child's environment.
	Name string
	// Lib is the library.
	Lib string
	// Config says in a few words how compression is configured.
	Config string
	// Takeover: the server keeps context both ways, so its answer must
	// carry neither no_context_takeover parameter.
	Takeover bool
	// ServerBits is the window the answer must announce for the server's
	// compressor (15 when it announces none).
	ServerBits int
	// Peer names the wspipe configuration that is like for like with
	// this one (same context takeover and window sizes); "" for wspipe's.
	Peer string
	// New returns the echo server.
	New func() http.Handler
}

// Servers are the configurations compared, wspipe's first.
var Servers = []Server{
	{
		Name: "wspipe", Lib: "wspipe", Takeover: true, ServerBits: 12,
		Config: "echo.Handler, Compression{}: defaults, context takeover, 12-bit windows both ways",
		New:    func() http.Handler { return wspipeEcho(&pipeline.Compression{}) },
	},
	{
		Name: "wspipe-15", Lib: "wspipe", Takeover: true, ServerBits: 15,
		Config: "Policy{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}: context takeover, 15-bit windows",
		New: func() http.Handler {
			return wspipeEcho(&pipeline.Compression{Policy: handshake.DeflatePolicy{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}})
		},
	},
	{
		Name: "wspipe-15-nctx", Lib: "wspipe", Takeover: false, ServerBits: 15,
		Config: "Policy{Server/ClientNoContextTakeover, 15-bit windows}: no context takeover",
		New: func() http.Handler {
			return wspipeEcho(&pipeline.Compression{Policy: handshake.DeflatePolicy{
				ServerNoContextTakeover: true, ClientNoContextTakeover: true,
				ServerMaxWindowBits: 15, ClientMaxWindowBits: 15,
			}})
		},
	},
	{
		Name: "gorilla", Lib: "gorilla/websocket v1.5.3", Takeover: false, ServerBits: 15, Peer: "wspipe-15-nctx",
		Config: "Upgrader{EnableCompression: true}, NextReader/NextWriter + io.Copy: no context takeover (its only mode), level 1",
		New:    gorillaEcho,
	},
	{
		Name: "coder", Lib: "coder/websocket v1.8.15", Takeover: true, ServerBits: 15, Peer: "wspipe-15",
		Config: "AcceptOptions{CompressionMode: CompressionContextTakeover}, Reader/Writer + io.Copy: 32 KiB window, level 1",
		New:    func() http.Handler { return coderEcho(coder.CompressionContextTakeover) },
	},
	{
		Name: "coder-nctx", Lib: "coder/websocket v1.8.15", Takeover: false, ServerBits: 15, Peer: "wspipe-15-nctx",
		Config: "AcceptOptions{CompressionMode: CompressionNoContextTakeover}",
		New:    func() http.Handler { return coderEcho(coder.CompressionNoContextTakeover) },
	},
	{
		Name: "gws", Lib: "lxzan/gws v1.8.9", Takeover: true, ServerBits: 12, Peer: "wspipe",
		Config: "PermessageDeflate{Enabled, ServerContextTakeover, ClientContextTakeover}: its defaults then, 12-bit windows both ways",
		New:    func() http.Handler { return gwsEcho(12) },
	},
	{
		Name: "gws-15", Lib: "lxzan/gws v1.8.9", Takeover: true, ServerBits: 15, Peer: "wspipe-15",
		Config: "as gws, with ServerMaxWindowBits and ClientMaxWindowBits 15",
		New:    func() http.Handler { return gwsEcho(15) },
	},
}

// Lookup returns the server configuration called name.
func Lookup(name string) (Server, error) {
	for _, s := range Servers {
		if s.Name == name {
			return s, nil
		}
	}
	return Server{}, fmt.Errorf("compress: unknown server %q", name)
}

// wspipeEcho is wspipe's echo service (what cmd/echo serves) with cfg:
// pipeline.Accept with Options.Compression, push mode, each message
// streamed back through NextWriter. Benchmark clients send no Origin.
func wspipeEcho(cfg *pipeline.Compression) http.Handler {
	return &echo.Handler{
		Handshake: handshake.Server{DangerouslyAllowAnyOrigin: true},
		Options:   pipeline.Options{MaxMessageSize: maxMessage, Compression: cfg},
	}
}

// gorillaEcho is gorilla/websocket's documented echo loop with
// EnableCompression set on the Upgrader (write compression is on by
// default once negotiated; level 1 is its default).
func gorillaEcho() http.Handler {
	up := &gorilla.Upgrader{
		EnableCompression: true,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(maxMessage)
		for {
			typ, rd, err := c.NextReader()
			if err != nil {
				return
			}
			wr, err := c.NextWriter(typ)
			if err != nil {
				return
			}
			if _, err := io.Copy(wr, rd); err != nil {
				return
			}
			if err := wr.Close(); err != nil {
				return
			}
		}
	})
}

// coderEcho is coder/websocket's echo example (Reader, Writer, io.Copy)
// with CompressionMode set; its threshold is left at the default.
func coderEcho(mode coder.CompressionMode) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{
			InsecureSkipVerify: true,
			CompressionMode:    mode,
		})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(maxMessage)
		ctx := context.Background()
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			wr, err := c.Writer(ctx, typ)
			if err != nil {
				return
			}
			if _, err := io.Copy(wr, rd); err != nil {
				return
			}
			if err := wr.Close(); err != nil {
				return
			}
		}
	})
}

// gwsHandler writes each message back from OnMessage, as gws's README and
// examples do.
type gwsHandler struct {
	gws.BuiltinEventHandler
}

func (gwsHandler) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

func (gwsHandler) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	_ = socket.WriteMessage(message.Opcode, message.Bytes())
}

// gwsEcho is gws with PermessageDeflate enabled and context takeover both
// ways, as its README's client example and its option docs describe. At
// bits 12 the window sizes are left to gws, which then picks 12 bits for
// both directions; at 15 they are set.
func gwsEcho(bits int) http.Handler {
	pmd := gws.PermessageDeflate{Enabled: true, ServerContextTakeover: true, ClientContextTakeover: true}
	if bits == 15 {
		pmd.ServerMaxWindowBits, pmd.ClientMaxWindowBits = 15, 15
	}
	up := gws.NewUpgrader(gwsHandler{}, &gws.ServerOption{
		PermessageDeflate:  pmd,
		ReadMaxPayloadSize: maxMessage,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		socket, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	})
}
