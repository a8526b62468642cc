// Command streamfile streams a file of any size to an echo server and back
// with io.Copy, one WebSocket message each way, and checks the SHA-256 of
// what returned. Nothing holds the whole file in memory: the message is an
// io.Writer on the way out and an io.Reader on the way back.
//
//	go run ./examples/streamfile -size 1073741824        # 1 GiB of generated data
//	go run ./examples/streamfile -file big.iso -url ws://localhost:4567/
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/pipeline"
)

func main() {
	file := flag.String("file", "", "file to stream (default: generated data)")
	size := flag.Int64("size", 64<<20, "bytes of generated data when -file is not given")
	url := flag.String("url", "", "echo server URL (default: an in-process one on loopback)")
	flag.Parse()

	if *url == "" {
		h := &echo.Handler{}
		h.Options.MaxMessageSize = -1 // streaming: no message limit
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		go http.Serve(ln, h)
		*url = "ws://" + ln.Addr().String() + "/"
	}

	var src io.Reader = io.LimitReader(rand.NewChaCha8([32]byte{}), *size)
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		src = f
	}

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, *url, nil, &pipeline.Options{MaxMessageSize: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(pipeline.CloseNormal, "")

	// Send and receive at once: the echo comes back while we still send.
	sent := sha256.New()
	errc := make(chan error, 1)
	go func() {
		w, err := c.NextWriter(ctx, pipeline.Binary)
		if err != nil {
			errc <- err
			return
		}
		if _, err := io.Copy(w, io.TeeReader(src, sent)); err != nil {
			errc <- err
			return
		}
		errc <- w.Close()
	}()

	_, r, err := c.NextReader(ctx)
	if err != nil {
		log.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, r)
	if err != nil {
		log.Fatal(err)
	}
	if err := <-errc; err != nil {
		log.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	same := string(sent.Sum(nil)) == string(got.Sum(nil))
	fmt.Printf("streamed %d bytes there and back, checksums match: %v, peak heap in use %d MiB\n",
		n, same, ms.HeapSys>>20)
	if !same {
		os.Exit(1)
	}
}
