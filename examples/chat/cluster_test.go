package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/wspipe/wspipe/pipeline"
)

const natsHowTo = "it needs Debian's nats-server (apt-get install nats-server) on PATH or in WSPIPE_NATS_SERVER; " +
	"WSPIPE_NATS=1 (as bash scripts/test.sh sets) makes a missing one a failure"

// natsServerBinary returns the nats-server to run, skipping the test (or
// failing it, with WSPIPE_NATS=1) if there is none.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("WSPIPE_NATS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("nats-server"); err != nil {
			if os.Getenv("WSPIPE_NATS") == "1" {
				t.Fatalf("WSPIPE_NATS=1 but no nats-server: %v; %s", err, natsHowTo)
			}
			t.Skipf("no nats-server: %v; %s", err, natsHowTo)
		}
	}
	return bin
}

// proc is a process a test started: a chat node or a NATS server.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	out    syncBuffer    // stderr (and stdout after the first line)
	exited chan struct{} // closed when the process has been waited for
	addr   string        // a chat node's host:port
}

// start runs cmd, kills it at the end of the test, and logs its output if
// the test failed.
func start(t *testing.T, name string, cmd *exec.Cmd, firstLine bool) *proc {
	t.Helper()
	p := &proc{t: t, name: name, cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = &p.out
	var stdout io.ReadCloser
	if firstLine {
		var err error
		if stdout, err = cmd.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
	} else {
		cmd.Stdout = &p.out
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	lines := make(chan string, 1)
	go func() {
		if stdout != nil {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			lines <- strings.TrimSpace(line)
			io.Copy(&p.out, stdout)
		}
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	if firstLine {
		select {
		case line := <-lines:
			u, err := url.Parse(line)
			if err != nil || u.Host == "" {
				t.Fatalf("%s printed %q; output:\n%s", name, line, p.out.String())
			}
			p.addr = u.Host
		case <-time.After(time.Minute):
			t.Fatalf("%s printed no URL in a minute; output:\n%s", name, p.out.String())
		}
	}
	return p
}

// kill sends SIGKILL and waits for the process to end.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// startNode runs a chat node, the test binary itself (see TestMain), with
// args, on addr (127.0.0.1:0 if empty).
func startNode(t *testing.T, name, addr string, args ...string) *proc {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	cmd := exec.Command(os.Args[0], append([]string{"-addr", addr, "-rate", "-1", "-v"}, args...)...)
	cmd.Env = append(os.Environ(), "WSPIPE_CHAT_RUN_MAIN=1")
	return start(t, name, cmd, true)
}

// freePorts returns n TCP ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startNATSCluster runs an n-server NATS cluster with JetStream on
// loopback, and returns its client URLs and processes once JetStream
// answers.
func startNATSCluster(t *testing.T, n int) ([]string, []*proc) {
	t.Helper()
	bin := natsServerBinary(t)
	ports := freePorts(t, 2*n)
	dir := t.TempDir()
	var urls, routes []string
	for i := range n {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
	}
	var procs []*proc
	for i := range n {
		conf := filepath.Join(dir, fmt.Sprintf("n%d.conf", i))
		text := fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
jetstream { store_dir: %q }
cluster {
  name: chattest
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, i, ports[i], filepath.Join(dir, fmt.Sprint("store", i)), ports[n+i], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, start(t, fmt.Sprint("nats-server n", i), exec.Command(bin, "-c", conf), false))
	}
	// Ready once the cluster can place a stream replicated on all of
	// its servers: JetStream's meta group has a leader and every server
	// has joined it.
	nc, err := nats.Connect(strings.Join(urls, ","), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "READY", Subjects: []string{"ready"}, Replicas: n, Storage: jetstream.MemoryStorage})
		if err == nil {
			err = js.DeleteStream(ctx, "READY")
		}
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("NATS cluster's JetStream not ready after a minute: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return urls, procs
}

// startChatCluster runs three chat nodes over a three-server NATS
// cluster, room streams replicated three times, and returns the nodes and
// the NATS servers.
func startChatCluster(t *testing.T) (nodes, natsProcs []*proc) {
	urls, natsProcs := startNATSCluster(t, 3)
	for i := range 3 {
		nodes = append(nodes, startNode(t, fmt.Sprint("chat node ", i), "", "-nats", strings.Join(urls, ","), "-replicas", "3"))
	}
	return nodes, natsProcs
}

// TestCluster: three chat nodes over a three-server NATS cluster (room
// streams replicated three times), Go clients spread across the nodes in
// two rooms, all of them talking. Midway a chat node is killed (SIGKILL),
// and later a NATS server: every member receives every message of its
// room once and in order, with consecutive seq numbers end to end, the
// clients of the dead node included, which reconnect to the others and
// resume.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	nodes, natsProcs := startChatCluster(t)
	runScenario(t, nodes, func(stage int) {
		switch stage {
		case 1:
			t.Log("SIGKILL chat node 0")
			nodes[0].kill()
		case 2:
			t.Log("SIGKILL nats-server n1")
			natsProcs[1].kill()
		}
	})
}

// TestSingleProcess: the same scenario on one chat node with its embedded
// NATS server, which is killed (SIGKILL) midway and started again on the
// same port and JetStream directory: the clients reconnect and resume.
func TestSingleProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	node := startNode(t, "chat node", "", "-nats-dir", dir)
	nodes := []*proc{node}
	runScenario(t, nodes, func(stage int) {
		if stage == 1 {
			t.Log("SIGKILL the chat node, and start it again")
			nodes[0].kill()
			// The same address: the members' list of nodes stays right
			// (and is not written while they read it).
			startNode(t, "chat node again", node.addr, "-nats-dir", dir)
		}
	})
}

// Scenario sizes: members per node and room, rooms, messages per member.
const (
	scenarioPerNode = 2
	scenarioRooms   = 2
	scenarioSays    = 24
)

// runScenario spreads members over nodes, scenarioPerNode per node and
// room, each of which says scenarioSays messages, one at a time (the next
// once its previous one came back). When every member has said a third of
// its messages, disrupt(1) runs, at two thirds disrupt(2). Then it checks
// what every member received.
func runScenario(t *testing.T, nodes []*proc, disrupt func(stage int)) {
	var members []*resumer
	addrs := func() []string { // the nodes' current addresses
		var a []string
		for _, n := range nodes {
			a = append(a, n.addr)
		}
		return a
	}
	for r := range scenarioRooms {
		for i := range len(nodes) * scenarioPerNode {
			members = append(members, &resumer{
				t: t, room: fmt.Sprint("room", r), nick: fmt.Sprintf("m%d-%d", r, i),
				node: i % len(nodes), says: scenarioSays,
			})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Everyone joins before anyone speaks, so every member's log covers
	// every message.
	for _, m := range members {
		if err := m.connect(ctx, addrs()); err != nil {
			t.Fatal(err)
		}
		if err := m.awaitJoin(ctx); err != nil {
			t.Fatal(err)
		}
	}
	progress := make(chan struct{}, len(members)*scenarioSays)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, m := range members {
		wg.Go(func() {
			if err := m.run(ctx, addrs, progress); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", m.nick, err))
				mu.Unlock()
				cancel()
			}
		})
	}
	said, total := 0, len(members)*scenarioSays
	// A minute without progress is a hang: report where everyone is.
	stall := time.NewTimer(time.Minute)
	defer stall.Stop()
	for stage := 1; said < total; {
		select {
		case <-progress:
			said++
			stall.Reset(time.Minute)
		case <-stall.C:
			cancel()
		case <-ctx.Done():
			wg.Wait()
			var where []string
			for _, m := range members {
				where = append(where, fmt.Sprintf("%s on node %d: said %d, last seq %d", m.nick, m.node%len(nodes), m.sent, m.last))
			}
			t.Fatalf("%d of %d messages confirmed: %v; %v; %s", said, total, ctx.Err(), errs, strings.Join(where, "; "))
		}
		if stage <= 2 && said >= stage*total/3 {
			disrupt(stage)
			stage++
		}
	}
	// Each member stops once it has seen every message of its room.
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}

	// Every member of a room saw the same events under the same seq
	// numbers, from its first one on, and every message once.
	for r := range scenarioRooms {
		room := fmt.Sprint("room", r)
		global := map[uint64]string{}
		var inRoom []*resumer
		for _, m := range members {
			if m.room != room {
				continue
			}
			inRoom = append(inRoom, m)
			for seq, ev := range m.log {
				key := ev.Type + " " + ev.Nick + " " + ev.ID
				if g, ok := global[seq]; ok && g != key {
					t.Fatalf("%s: seq %d is %q for %s, %q for another member", room, seq, key, m.nick, g)
				}
				global[seq] = key
			}
		}
		for _, m := range inRoom {
			said := map[string]int{}
			for _, ev := range m.log {
				if ev.Type == typeMessage {
					said[ev.Nick+" "+ev.ID]++
				}
			}
			for _, o := range inRoom {
				for k := range scenarioSays {
					if n := said[fmt.Sprintf("%s %s-%d", o.nick, o.nick, k)]; n != 1 {
						t.Fatalf("%s received %s's message %d %d times", m.nick, o.nick, k, n)
					}
				}
			}
		}
		t.Logf("%s: %d events, each member saw every message once and in seq order; reconnections: %s", room, len(global), reconnections(inRoom))
	}
}

func reconnections(ms []*resumer) string {
	var parts []string
	for _, m := range ms {
		if m.reconnects > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", m.nick, m.reconnects))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// resumer is a chat client that survives its node: when its connection
// ends it connects to the next node and resumes after the last seq it
// received. It checks that seq numbers follow each other one by one and
// keeps every room event it receives by seq. It says its messages with
// ids, one at a time, sending one again after an error or a reconnection
// until it comes back from the room.
type resumer struct {
	t          *testing.T
	room, nick string
	node       int // index of the node it uses
	says       int
	reconnects int

	c      *pipeline.Conn
	events chan Event
	done   chan struct{}
	log    map[uint64]Event
	last   uint64 // the last seq received
	sent   int    // messages confirmed
}

// connect connects to the node at index node of addrs (or the next one
// that answers) and joins the room, resuming after last if it has one.
func (m *resumer) connect(ctx context.Context, addrs []string) error {
	if m.log == nil {
		m.log = map[uint64]Event{}
	}
	var err error
	for attempt := range 60 {
		addr := addrs[m.node%len(addrs)]
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var c *pipeline.Conn
		c, _, err = pipeline.Dial(dctx, "ws://"+addr+"/ws", nil, &pipeline.Options{CloseTimeout: time.Second})
		cancel()
		if err == nil {
			m.c = c
			m.events, m.done = make(chan Event, 4096), make(chan struct{})
			go m.read(c, m.events, m.done)
			req := request{Type: typeJoin, Room: m.room, Nick: m.nick}
			if m.last > 0 {
				req.After = &m.last
			}
			data, _ := json.Marshal(req)
			if err = c.WriteMessage(ctx, pipeline.Text, data); err == nil {
				return nil
			}
			c.CloseNow()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The node is gone (or restarting): try the next one after a
		// backoff.
		m.node++
		select {
		case <-time.After(min(time.Duration(attempt+1)*100*time.Millisecond, time.Second)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("cannot connect: %w", err)
}

func (m *resumer) read(c *pipeline.Conn, events chan<- Event, done chan<- struct{}) {
	defer close(done)
	for {
		_, msg, err := c.ReadMessage(context.Background(), nil)
		if err != nil {
			return
		}
		var ev Event
		if json.Unmarshal(msg, &ev) != nil {
			ev = Event{Type: "undecodable", Text: string(msg)}
		}
		select {
		case events <- ev:
		default:
			c.CloseNow() // the test reads far faster than this
			return
		}
	}
}

// take records one event, checking its seq.
func (m *resumer) take(ev Event) error {
	switch {
	case ev.Type == "undecodable":
		return fmt.Errorf("undecodable message %q", ev.Text)
	case ev.Type == typeGap:
		return fmt.Errorf("events %d to %d lost", ev.From, ev.To)
	case ev.Seq == 0:
		return nil // an error, checked by the caller
	case ev.Room != m.room:
		return fmt.Errorf("an event of room %q: %+v", ev.Room, ev)
	case m.last != 0 && ev.Seq != m.last+1:
		return fmt.Errorf("seq %d after %d (%+v)", ev.Seq, m.last, ev)
	}
	m.last = ev.Seq
	m.log[ev.Seq] = ev
	return nil
}

// awaitJoin waits until the member has seen its own joined event.
func (m *resumer) awaitJoin(ctx context.Context) error {
	for {
		select {
		case ev := <-m.events:
			if err := m.take(ev); err != nil {
				return fmt.Errorf("%s: %w", m.nick, err)
			}
			if ev.Type == typeError {
				if !strings.Contains(ev.Error, "not available") {
					return fmt.Errorf("%s: %s", m.nick, ev.Error)
				}
				m.rejoin(ctx) // the cluster is busy: again
			}
			if ev.Type == typeJoined && ev.Nick == m.nick {
				return nil
			}
		case <-m.done:
			return fmt.Errorf("%s: connection ended while joining", m.nick)
		case <-ctx.Done():
			return fmt.Errorf("%s: not joined: %w", m.nick, ctx.Err())
		}
	}
}

// run says the member's messages, then receives until it has seen every
// member's last one, reconnecting whenever its connection ends.
func (m *resumer) run(ctx context.Context, addrs func() []string, progress chan<- struct{}) error {
	defer func() { m.c.CloseNow() }()
	want := map[string]bool{} // the others' last messages not seen yet
	for i := range len(addrs()) * scenarioPerNode {
		if nick := fmt.Sprintf("m%s-%d", strings.TrimPrefix(m.room, "room"), i); nick != m.nick {
			want[nick] = true
		}
	}
	sendTimer := time.NewTimer(0)
	defer sendTimer.Stop()
	for m.sent < m.says || len(want) > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d said, %d others not done: %w", m.sent, m.says, len(want), ctx.Err())
		case <-sendTimer.C:
			if m.sent < m.says {
				id := fmt.Sprintf("%s-%d", m.nick, m.sent)
				data, _ := json.Marshal(request{Type: typeSay, Text: "hello " + id, ID: id})
				m.c.WriteMessage(ctx, pipeline.Text, data) // an error: done is closed, handled below
				sendTimer.Reset(5 * time.Second)           // sent again if nothing comes back
			}
		case ev := <-m.events:
			if err := m.take(ev); err != nil {
				return err
			}
			switch {
			case ev.Type == typeError:
				// Not sent, or not joined (a node not ready): again soon.
				if strings.Contains(ev.Error, "not available") || strings.Contains(ev.Error, "join a room first") {
					m.rejoin(ctx)
				}
				sendTimer.Reset(200 * time.Millisecond)
			case ev.Type == typeMessage && ev.Nick == m.nick && ev.ID == fmt.Sprintf("%s-%d", m.nick, m.sent):
				m.sent++
				progress <- struct{}{}
				sendTimer.Reset(0)
			case ev.Type == typeMessage && ev.ID == fmt.Sprintf("%s-%d", ev.Nick, m.says-1):
				delete(want, ev.Nick)
			}
		case <-m.done:
			m.reconnects++
			m.node++
			if err := m.connect(ctx, addrs()); err != nil {
				return err
			}
			sendTimer.Reset(100 * time.Millisecond)
		}
	}
	return nil
}

// rejoin sends the join again (resuming), after a join that failed.
func (m *resumer) rejoin(ctx context.Context) {
	req := request{Type: typeJoin, Room: m.room, Nick: m.nick, After: &m.last}
	data, _ := json.Marshal(req)
	time.Sleep(200 * time.Millisecond)
	m.c.WriteMessage(ctx, pipeline.Text, data)
}
