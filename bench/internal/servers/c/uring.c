/*
 * uring.c: single-threaded io_uring TCP echo, the ceiling baseline
 * "c-uring" of cmd/compare (see common.h). Raw system calls, no liburing.
 *
 * One ring (SINGLE_ISSUER | DEFER_TASKRUN where the kernel has them,
 * plain otherwise), a multishot accept on the listener and a multishot
 * recv on every connection drawing from one ring of provided buffers
 * (1024 × 32 KiB). Each received buffer is queued on its connection and
 * sent back with IORING_OP_SEND, one send in flight per connection so
 * the bytes stay in order (a short send is resubmitted for the rest),
 * and the buffer returns to the ring when its send completes. Every
 * io_uring_enter submits all the SQEs queued since the last one and waits
 * for at least one completion; all the completions available are then
 * handled before the next: submissions and completions are batched.
 * When the buffers run out (-ENOBUFS) a connection's recv is re-armed
 * once buffers come back. A connection's descriptor is closed only when
 * none of its operations is in flight.
 *
 * Before it prints its URL the server echoes a few bytes to itself
 * through the ring (bounded by a 5 s alarm): if io_uring cannot be set
 * up, or the kernel lacks multishot accept, multishot recv or provided
 * buffer rings, or a security policy forbids them, it prints "skip: ..."
 * on stderr and exits with status 77 instead of serving.
 */
#include "common.h"

#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define SQ_ENTRIES 4096
#define CQ_ENTRIES 16384
#define NBUF 1024 /* power of two */
#define BUF_SIZE (32 << 10)
#define BGID 1

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };

#define UD(op, fd) (((uint64_t)(op) << 32) | (uint32_t)(fd))
#define UD_OP(ud) ((int)((ud) >> 32))
#define UD_FD(ud) ((int)(uint32_t)(ud))

struct conn {
	int head, tail;   /* queue of buffer ids to send, through next_bid; -1: empty */
	unsigned off;     /* bytes of the head buffer already sent */
	uint8_t open;     /* descriptor belongs to a connection */
	uint8_t recving;  /* multishot recv armed */
	uint8_t sending;  /* send in flight */
	uint8_t closing;  /* end of stream or error: close when idle */
	uint8_t starved;  /* recv ended with -ENOBUFS: re-arm when buffers return */
};

static struct {
	int fd;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned sq_entries;
	unsigned local_tail, to_submit;
	unsigned flags;
} ring;

static struct conn *conns;
static int nconns;
static int lfd;
static struct io_uring_buf_ring *br;
static char *bufs;
static int next_bid[NBUF];
static unsigned blen[NBUF];
static unsigned br_tail;
static int returned; /* buffers returned since the last re-arm pass */
static int *starved;
static int nstarved;
static int selftest = 1;

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(unsigned to_submit, unsigned min_complete, unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, ring.fd, to_submit, min_complete, flags, NULL, 0);
}

static int sys_register(unsigned op, void *arg, unsigned nr)
{
	return (int)syscall(__NR_io_uring_register, ring.fd, op, arg, nr);
}

static void skip(const char *what, int err)
{
	fprintf(stderr, "skip: io_uring %s: %s\n", what, strerror(err));
	exit(EXIT_SKIP);
}

static void on_selftest_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "skip: io_uring self-test did not complete in 5 s\n";
	if (write(2, msg, sizeof msg - 1) < 0) {
		/* nothing to do */
	}
	_exit(EXIT_SKIP);
}

static void setup_ring(void)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	int fd = -1, err = 0;
	for (size_t i = 0; i < sizeof tries / sizeof tries[0] && fd < 0; i++) {
		memset(&p, 0, sizeof p);
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = CQ_ENTRIES;
		fd = sys_setup(SQ_ENTRIES, &p);
		if (fd < 0) {
			err = errno;
			if (err != EINVAL)
				break; /* ENOSYS, EPERM (io_uring_disabled, seccomp): no use trying again */
		}
	}
	if (fd < 0)
		skip("setup", err);
	ring.fd = fd;
	ring.flags = p.flags;
	size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if ((p.features & IORING_FEAT_SINGLE_MMAP) && cq_sz > sq_sz)
		sq_sz = cq_sz;
	char *sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		skip("mmap of the SQ ring", errno);
	char *cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			skip("mmap of the CQ ring", errno);
	}
	ring.sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (ring.sqes == MAP_FAILED)
		skip("mmap of the SQEs", errno);
	ring.sq_head = (unsigned *)(sq + p.sq_off.head);
	ring.sq_tail = (unsigned *)(sq + p.sq_off.tail);
	ring.sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	ring.sq_array = (unsigned *)(sq + p.sq_off.array);
	ring.cq_head = (unsigned *)(cq + p.cq_off.head);
	ring.cq_tail = (unsigned *)(cq + p.cq_off.tail);
	ring.cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	ring.cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	ring.sq_entries = p.sq_entries;
	for (unsigned i = 0; i < p.sq_entries; i++)
		ring.sq_array[i] = i;
	ring.local_tail = *ring.sq_tail;
}

static void put_buf(int bid)
{
	struct io_uring_buf *b = &br->bufs[br_tail & (NBUF - 1)];
	b->addr = (uint64_t)(uintptr_t)(bufs + (size_t)bid * BUF_SIZE);
	b->len = BUF_SIZE;
	b->bid = (uint16_t)bid;
	br_tail++;
	atomic_store_explicit((_Atomic uint16_t *)&br->tail, (uint16_t)br_tail, memory_order_release);
	returned++;
}

static void setup_buffers(void)
{
	size_t ring_sz = NBUF * sizeof(struct io_uring_buf);
	br = mmap(NULL, ring_sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bufs = mmap(NULL, (size_t)NBUF * BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED || bufs == MAP_FAILED)
		die("mmap");
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = NBUF, .bgid = BGID};
	if (sys_register(IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
		skip("provided buffer ring (IORING_REGISTER_PBUF_RING)", errno);
	for (int i = 0; i < NBUF; i++)
		put_buf(i);
	returned = 0;
}

/* submit hands the queued SQEs to the kernel and, if wait, waits for at
 * least one completion. */
static void submit(int wait)
{
	atomic_store_explicit((_Atomic unsigned *)ring.sq_tail, ring.local_tail, memory_order_release);
	unsigned flags = wait ? IORING_ENTER_GETEVENTS : 0;
	int r = sys_enter(ring.to_submit, wait ? 1 : 0, flags);
	if (r < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EBUSY)
			return; /* retried on the next call; EBUSY: completions to reap first */
		die("io_uring_enter");
	}
	ring.to_submit -= (unsigned)r < ring.to_submit ? (unsigned)r : ring.to_submit;
}

static struct io_uring_sqe *get_sqe(void)
{
	/* At most two tries: a submit frees the whole queue. */
	for (int i = 0; i < 2; i++) {
		unsigned head = atomic_load_explicit((_Atomic unsigned *)ring.sq_head, memory_order_acquire);
		if (ring.local_tail - head < ring.sq_entries) {
			struct io_uring_sqe *sqe = &ring.sqes[ring.local_tail & *ring.sq_mask];
			memset(sqe, 0, sizeof *sqe);
			ring.local_tail++;
			ring.to_submit++;
			return sqe;
		}
		submit(0);
	}
	fprintf(stderr, "io_uring submission queue stays full\n");
	exit(1);
}

static void arm_accept(void)
{
	struct io_uring_sqe *sqe = get_sqe();
	sqe->opcode = IORING_OP_ACCEPT;
	sqe->fd = lfd;
	sqe->ioprio = IORING_ACCEPT_MULTISHOT;
	sqe->accept_flags = SOCK_CLOEXEC;
	sqe->user_data = UD(OP_ACCEPT, lfd);
}

static void arm_recv(int fd)
{
	struct io_uring_sqe *sqe = get_sqe();
	sqe->opcode = IORING_OP_RECV;
	sqe->fd = fd;
	sqe->ioprio = IORING_RECV_MULTISHOT;
	sqe->flags = IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	sqe->user_data = UD(OP_RECV, fd);
	conns[fd].recving = 1;
	conns[fd].starved = 0;
}

static void send_head(int fd)
{
	struct conn *c = &conns[fd];
	int bid = c->head;
	struct io_uring_sqe *sqe = get_sqe();
	sqe->opcode = IORING_OP_SEND;
	sqe->fd = fd;
	sqe->addr = (uint64_t)(uintptr_t)(bufs + (size_t)bid * BUF_SIZE + c->off);
	sqe->len = blen[bid] - c->off;
	sqe->msg_flags = MSG_NOSIGNAL;
	sqe->user_data = UD(OP_SEND, fd);
	c->sending = 1;
}

/* pop drops the head of fd's send queue, returning its buffer. */
static void pop(struct conn *c)
{
	int bid = c->head;
	c->head = next_bid[bid];
	if (c->head < 0)
		c->tail = -1;
	c->off = 0;
	put_buf(bid);
}

/* maybe_close closes fd once nothing of it is in flight. */
static void maybe_close(int fd)
{
	struct conn *c = &conns[fd];
	if (!c->closing || c->recving || c->sending)
		return;
	while (c->head >= 0)
		pop(c);
	close(fd);
	c->open = 0;
}

/* fail ends a connection after an error: shutdown makes its armed recv
 * complete, after which it is closed. */
static void fail(int fd)
{
	struct conn *c = &conns[fd];
	if (!c->closing)
		shutdown(fd, SHUT_RDWR);
	c->closing = 1;
	maybe_close(fd);
}

static void on_accept(struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		if (cqe->res == -EINVAL && selftest)
			skip("multishot accept", EINVAL);
		arm_accept();
	}
	int fd = cqe->res;
	if (fd < 0)
		return;
	if (fd >= nconns) {
		close(fd);
		return;
	}
	nodelay(fd);
	conns[fd] = (struct conn){.head = -1, .tail = -1, .open = 1};
	arm_recv(fd);
}

static void on_recv(struct io_uring_cqe *cqe)
{
	int fd = UD_FD(cqe->user_data);
	struct conn *c = &conns[fd];
	int more = cqe->flags & IORING_CQE_F_MORE;
	if (!more)
		c->recving = 0;
	if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		blen[bid] = (unsigned)cqe->res;
		next_bid[bid] = -1;
		if (c->closing) {
			put_buf(bid);
		} else {
			if (c->tail >= 0)
				next_bid[c->tail] = bid;
			else
				c->head = bid;
			c->tail = bid;
			if (!c->sending)
				send_head(fd);
		}
		if (!more && !c->closing)
			arm_recv(fd);
		maybe_close(fd);
		return;
	}
	if (cqe->res == -ENOBUFS) {
		if (!more && !c->closing) {
			c->starved = 1;
			starved[nstarved++] = fd;
		}
		maybe_close(fd);
		return;
	}
	if (cqe->res == -EINVAL && selftest)
		skip("multishot recv with provided buffers", EINVAL);
	/* End of stream or error: send what is queued, then close. */
	c->closing = 1;
	if (more)
		shutdown(fd, SHUT_RDWR);
	maybe_close(fd);
}

static void on_send(struct io_uring_cqe *cqe)
{
	int fd = UD_FD(cqe->user_data);
	struct conn *c = &conns[fd];
	c->sending = 0;
	if (cqe->res <= 0) {
		fail(fd);
		return;
	}
	c->off += (unsigned)cqe->res;
	if (c->off >= blen[c->head])
		pop(c);
	if (c->head >= 0)
		send_head(fd);
	else
		maybe_close(fd);
}

/* reap handles every completion available; it returns how many. */
static int reap(void)
{
	unsigned head = *ring.cq_head;
	unsigned tail = atomic_load_explicit((_Atomic unsigned *)ring.cq_tail, memory_order_acquire);
	int n = 0;
	for (; head != tail; head++, n++) {
		struct io_uring_cqe *cqe = &ring.cqes[head & *ring.cq_mask];
		switch (UD_OP(cqe->user_data)) {
		case OP_ACCEPT:
			on_accept(cqe);
			break;
		case OP_RECV:
			on_recv(cqe);
			break;
		case OP_SEND:
			on_send(cqe);
			break;
		}
	}
	atomic_store_explicit((_Atomic unsigned *)ring.cq_head, head, memory_order_release);
	/* Re-arm the connections that ran out of buffers, now some are back
	 * (one that runs out again waits for the next buffers returned). */
	if (returned && nstarved) {
		int list = nstarved;
		nstarved = 0;
		for (int i = 0; i < list; i++) {
			int fd = starved[i];
			struct conn *c = &conns[fd];
			if (!c->open || !c->starved)
				continue;
			c->starved = 0;
			if (c->closing)
				maybe_close(fd);
			else
				arm_recv(fd);
		}
	}
	returned = 0;
	return n;
}

/* self_test echoes 4 bytes through the ring over a loopback connection to
 * itself, so a kernel without the features used fails here, with a skip,
 * rather than under load. */
static void self_test(int port)
{
	signal(SIGALRM, on_selftest_alarm);
	unsigned left = alarm(5);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		die("socket");
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("self-test connect");
	if (write(c, "ping", 4) != 4)
		die("self-test write");
	char got[4];
	size_t have = 0;
	/* Bounded: the alarm ends it after 5 s. */
	for (;;) {
		ssize_t r = recv(c, got + have, sizeof got - have, MSG_DONTWAIT);
		if (r > 0)
			have += (size_t)r;
		if (have == sizeof got)
			break;
		if (r == 0)
			skip("self-test", ECONNRESET);
		submit(1);
		reap();
	}
	if (memcmp(got, "ping", 4) != 0) {
		fprintf(stderr, "io_uring self-test echoed the wrong bytes\n");
		exit(1);
	}
	close(c);
	selftest = 0;
	signal(SIGALRM, on_lifetime);
	alarm(left);
}

int main(int argc, char **argv)
{
	int port = parse_args(argc, argv);
	nconns = maxfds();
	conns = calloc((size_t)nconns, sizeof *conns);
	starved = calloc((size_t)nconns, sizeof *starved);
	if (!conns || !starved)
		die("calloc");
	lfd = listen_loopback(port, 0, &port);
	setup_ring();
	setup_buffers();
	arm_accept();
	self_test(port);
	announce(port);
	for (;;) {
		submit(1);
		reap();
	}
}
