// Command chatbench measures the chat example scaled out on NATS: fan-out
// latency from publish to delivery, delivered messages per second, and
// server CPU per delivered message, with 1, 2 and 3 chat nodes and a few
// thousand members spread over them, for several room sizes.
//
//	cd examples/chat
//	go run ./cmd/chatbench -out cmd/chatbench/results.json
//	go run ./cmd/chatbench -chart cmd/chatbench/results.json -svg ../../docs/scaling.svg
//
// Every run starts a fresh nats-server (Debian's, with JetStream) and the
// chat nodes, built from this module, as processes on loopback, connects
// the members round-robin over the nodes, lets one member per room speak
// at a fixed rate (the offered load, in deliveries per second, divided by
// the room size), and measures a window after a warm-up. Each message's
// text is the time it was sent, so every member measures its latency.
// CPU is read from /proc for the chat nodes, the NATS server and this
// process (the members' side). Everything shares one machine: see
// docs/scaling.md for what that means.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

// Result is one run's measurements.
type Result struct {
	Nodes      int     `json:"nodes"`
	Members    int     `json:"members"`
	RoomSize   int     `json:"room_size"`
	Rooms      int     `json:"rooms"`
	Offered    float64 `json:"offered_per_s"`   // deliveries per second asked for
	Published  float64 `json:"published_per_s"` // messages said per second
	Delivered  float64 `json:"delivered_per_s"` // messages received per second, all members
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	Lost       int64   `json:"lost"` // said in the window but not received by a member by the end
	Kicked     int64   `json:"kicked"`
	ChatCPU    float64 `json:"chat_cpu"`    // CPU-seconds per second, all chat nodes
	NATSCPU    float64 `json:"nats_cpu"`    // CPU-seconds per second, the NATS server
	ClientCPU  float64 `json:"client_cpu"`  // CPU-seconds per second, this process
	ChatUSPerD float64 `json:"chat_us_per"` // chat node CPU µs per delivered message
	NATSUSPerD float64 `json:"nats_us_per"` // NATS CPU µs per delivered message
}

// Report is what -out writes.
type Report struct {
	Machine string   `json:"machine"`
	Date    string   `json:"date"`
	Window  string   `json:"window"`
	Results []Result `json:"results"`
}

func main() {
	nodesFlag := flag.String("nodes", "1,2,3", "chat node counts to run")
	sizes := flag.String("room-sizes", "30,300,3000", "members per room to run")
	members := flag.Int("members", 3000, "members in all")
	loads := flag.String("load", "30000", "offered deliveries per second (comma-separated: one run per value)")
	window := flag.Duration("window", 10*time.Second, "measurement window")
	warmup := flag.Duration("warmup", 3*time.Second, "warm-up before the window")
	out := flag.String("out", "", "write the results as JSON here")
	chart := flag.String("chart", "", "draw the results in this JSON file as an SVG (see -svg) and exit")
	svg := flag.String("svg", "scaling.svg", "the SVG file -chart writes")
	flag.Parse()
	if *chart != "" {
		if err := drawChart(*chart, *svg); err != nil {
			fatal(err)
		}
		return
	}
	natsBin, err := exec.LookPath("nats-server")
	if err != nil {
		fatal(fmt.Errorf("%w (apt-get install nats-server)", err))
	}
	dir, err := os.MkdirTemp("", "chatbench-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	chatBin := filepath.Join(dir, "chat")
	build := exec.Command("go", "build", "-o", chatBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fatal(fmt.Errorf("building the chat node (run chatbench from examples/chat): %w", err))
	}
	rep := Report{Machine: machine(), Date: time.Now().UTC().Format(time.DateOnly), Window: window.String()}
	for _, load := range ints(*loads) {
		for _, size := range ints(*sizes) {
			for _, n := range ints(*nodesFlag) {
				r, err := run(dir, natsBin, chatBin, n, *members, size, float64(load), *warmup, *window)
				if err != nil {
					fatal(fmt.Errorf("%d nodes, rooms of %d: %w", n, size, err))
				}
				fmt.Fprintf(os.Stderr, "nodes %d  room %5d  offered %6.0f/s  delivered %8.0f/s  p50 %7.0f µs  p99 %8.0f µs  lost %d  kicked %d  chat CPU %.2f  NATS CPU %.2f  client CPU %.2f  chat %.1f µs/msg  NATS %.1f µs/msg\n",
					r.Nodes, r.RoomSize, r.Offered, r.Delivered, r.P50us, r.P99us, r.Lost, r.Kicked, r.ChatCPU, r.NATSCPU, r.ClientCPU, r.ChatUSPerD, r.NATSUSPerD)
				rep.Results = append(rep.Results, r)
			}
		}
	}
	if *out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "chatbench:", err)
	os.Exit(1)
}

func ints(s string) []int {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fatal(fmt.Errorf("bad number %q", f))
		}
		out = append(out, n)
	}
	return out
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(line[strings.Index(line, ":")+1:])
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs", model, numCPU())
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, bytes.Count(b, []byte("processor\t:")))
}

// proc is a started process.
type proc struct {
	cmd  *exec.Cmd
	addr string
}

func (p *proc) kill() { p.cmd.Process.Kill(); p.cmd.Wait() }

// cpu returns the process's user+system CPU time.
func cpu(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// run is one measurement.
func run(dir, natsBin, chatBin string, nodes, members, size int, offered float64, warmup, window time.Duration) (Result, error) {
	size = min(size, members)
	rooms := (members + size - 1) / size // the last one may be short
	res := Result{Nodes: nodes, Members: members, RoomSize: size, Rooms: rooms, Offered: offered}
	port, err := freePort()
	if err != nil {
		return res, err
	}
	store, err := os.MkdirTemp(dir, "nats-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(store)
	ns := &proc{cmd: exec.Command(natsBin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", store)}
	if err := ns.cmd.Start(); err != nil {
		return res, err
	}
	defer ns.kill()
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", port)
	for i := 0; ; i++ { // wait for it to listen
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			return res, fmt.Errorf("nats-server does not listen: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var chats []*proc
	defer func() {
		for _, p := range chats {
			p.kill()
		}
	}()
	for range nodes {
		p := &proc{cmd: exec.Command(chatBin, "-addr", "127.0.0.1:0", "-nats", natsURL, "-rate", "-1",
			"-send-queue", "4096", "-ping", "0")}
		p.cmd.Stderr = os.Stderr
		stdout, err := p.cmd.StdoutPipe()
		if err != nil {
			return res, err
		}
		if err := p.cmd.Start(); err != nil {
			return res, err
		}
		chats = append(chats, p)
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			return res, fmt.Errorf("chat node: %w", err)
		}
		go io.Copy(io.Discard, stdout)
		u, err := url.Parse(strings.TrimSpace(line))
		if err != nil {
			return res, err
		}
		p.addr = u.Host
	}

	// The members.
	h := newHist()
	var (
		received, kicked atomic.Int64
		windowStart      atomic.Int64 // unix ns; messages sent before are not counted
		windowEnd        atomic.Int64
	)
	windowStart.Store(math.MaxInt64)
	windowEnd.Store(math.MaxInt64)
	type mem struct {
		c      *pipeline.Conn
		joined chan struct{}
	}
	ms := make([]*mem, members)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var dialErr error
	var dmu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range members {
		m := &mem{joined: make(chan struct{})}
		ms[i] = m
		room := fmt.Sprintf("r%d", i/size)
		nick := fmt.Sprintf("m%d", i)
		var once sync.Once
		opts := &pipeline.Options{
			CloseTimeout: time.Second,
			OnMessage: func(c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
				var buf [512]byte
				n, _ := pipeline.Fill(r, buf[:])
				msg := buf[:n]
				now := time.Now().UnixNano()
				i := bytes.Index(msg, []byte(`"text":"t`))
				if i < 0 {
					if bytes.Contains(msg, []byte(`"type":"joined"`)) && bytes.Contains(msg, []byte(`"nick":"`+nick+`"`)) {
						once.Do(func() { close(m.joined) })
					}
					return nil
				}
				rest := msg[i+len(`"text":"t`):]
				j := bytes.IndexByte(rest, '"')
				if j < 0 {
					return nil
				}
				sent, err := strconv.ParseInt(string(rest[:j]), 10, 64)
				if err != nil || sent < windowStart.Load() || sent >= windowEnd.Load() {
					return nil
				}
				received.Add(1)
				h.add(time.Duration(now - sent))
				return nil
			},
			OnClose: func(c *pipeline.Conn, err error) {
				if pipeline.CloseStatus(err) == pipeline.ClosePolicyViolation {
					kicked.Add(1)
				}
			},
		}
		addr := chats[i%nodes].addr
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, _, err := pipeline.Dial(ctx, "ws://"+addr+"/ws", nil, opts)
			if err == nil {
				m.c = c
				data, _ := json.Marshal(map[string]string{"type": "join", "room": room, "nick": nick})
				err = c.WriteMessage(ctx, pipeline.Text, data)
			}
			if err == nil {
				select {
				case <-m.joined:
				case <-time.After(time.Minute):
					err = errors.New("no joined event in a minute")
				}
			}
			if err != nil {
				dmu.Lock()
				dialErr = err
				dmu.Unlock()
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, m := range ms {
			if m.c != nil {
				m.c.CloseNow()
			}
		}
	}()
	if dialErr != nil {
		return res, dialErr
	}

	// The speakers: the first member of each room, at offered/size
	// messages per second in all, spread over the rooms.
	perRoom := offered / float64(size) / float64(rooms)
	interval := time.Duration(float64(time.Second) / perRoom)
	stop := make(chan struct{})
	var said, due atomic.Int64 // messages said in the window, deliveries they owe
	var swg sync.WaitGroup
	for r := range rooms {
		c := ms[r*size].c
		inRoom := int64(min(size, members-r*size))
		swg.Go(func() {
			// Spread the rooms' ticks over the interval.
			time.Sleep(time.Duration(int64(interval) * int64(r) / int64(rooms)))
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				now := time.Now().UnixNano()
				msg := `{"type":"say","text":"t` + strconv.FormatInt(now, 10) + `"}`
				if c.WriteMessage(ctx, pipeline.Text, []byte(msg)) != nil {
					return
				}
				if now >= windowStart.Load() && now < windowEnd.Load() {
					said.Add(1)
					due.Add(inRoom)
				}
			}
		})
	}
	time.Sleep(warmup)
	pids := func() (out []int) {
		for _, p := range chats {
			out = append(out, p.cmd.Process.Pid)
		}
		return out
	}()
	sum := func(pids []int) (d time.Duration) {
		for _, p := range pids {
			d += cpu(p)
		}
		return d
	}
	c0, n0, s0 := sum(pids), cpu(ns.cmd.Process.Pid), cpu(os.Getpid())
	t0 := time.Now()
	windowEnd.Store(t0.Add(window).UnixNano())
	windowStart.Store(t0.UnixNano())
	time.Sleep(window)
	c1, n1, s1 := sum(pids), cpu(ns.cmd.Process.Pid), cpu(os.Getpid())
	el := time.Since(t0).Seconds()
	// Let the window's last messages arrive.
	time.Sleep(2 * time.Second)
	close(stop)
	swg.Wait()

	got := received.Load()
	res.Published = float64(said.Load()) / window.Seconds()
	res.Delivered = float64(got) / window.Seconds()
	res.Lost = due.Load() - got
	res.Kicked = kicked.Load()
	res.P50us = h.quantile(0.50)
	res.P99us = h.quantile(0.99)
	res.ChatCPU = (c1 - c0).Seconds() / el
	res.NATSCPU = (n1 - n0).Seconds() / el
	res.ClientCPU = (s1 - s0).Seconds() / el
	if got > 0 {
		res.ChatUSPerD = (c1 - c0).Seconds() * 1e6 / float64(got)
		res.NATSUSPerD = (n1 - n0).Seconds() * 1e6 / float64(got)
	}
	return res, nil
}

// hist is a latency histogram with buckets 2 % apart from 1 µs.
type hist struct {
	mu sync.Mutex
	b  []int64
	n  int64
}

const histGrowth = 1.02

func newHist() *hist { return &hist{b: make([]int64, 1200)} }

func (h *hist) add(d time.Duration) {
	us := max(1, float64(d)/1e3)
	i := min(len(h.b)-1, int(math.Log(us)/math.Log(histGrowth)))
	h.mu.Lock()
	h.b[i]++
	h.n++
	h.mu.Unlock()
}

// quantile returns the q quantile in µs (the bucket's upper bound).
func (h *hist) quantile(q float64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	want := int64(math.Ceil(q * float64(h.n)))
	var acc int64
	for i, c := range h.b {
		acc += c
		if acc >= want && c > 0 {
			return math.Pow(histGrowth, float64(i+1))
		}
	}
	return 0
}
