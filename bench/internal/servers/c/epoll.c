/*
 * epoll.c: single-threaded epoll TCP echo, the ceiling baseline
 * "c-epoll" of cmd/compare (see common.h).
 *
 * Level-triggered epoll on non-blocking sockets, up to 512 ready sockets
 * per epoll_wait. A readable socket gets one read of up to 64 KiB into a
 * buffer shared by all connections and one write of what was read; only
 * when that write is short is the rest copied to a buffer of the
 * connection's own, reading stops and EPOLLOUT is awaited until it has
 * gone (the back-pressure a blocking goroutine echo has). An idle
 * connection holds a descriptor and a 16-byte slot, nothing else.
 */
#include "common.h"

#include <sys/epoll.h>

#define READ_BUF (64 << 10)
#define MAX_EVENTS 512

struct conn {
	char *pend; /* unsent bytes, or NULL */
	unsigned len, off;
};

static struct conn *conns; /* indexed by descriptor */
static int nconns;
static int ep;
static char buf[READ_BUF];

static void drop(int fd)
{
	free(conns[fd].pend);
	conns[fd] = (struct conn){0};
	close(fd); /* also leaves the epoll set */
}

static void want(int fd, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		drop(fd);
}

/* flush writes what is pending on fd; back to reading when it is gone. */
static void flush(int fd)
{
	struct conn *c = &conns[fd];
	ssize_t w = write(fd, c->pend + c->off, c->len - c->off);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			drop(fd);
		return;
	}
	c->off += (unsigned)w;
	if (c->off == c->len) {
		free(c->pend);
		c->pend = NULL;
		want(fd, EPOLLIN);
	}
}

static void echo(int fd)
{
	ssize_t r = read(fd, buf, sizeof buf);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		drop(fd);
		return;
	}
	if (r < 0)
		return;
	ssize_t w = write(fd, buf, (size_t)r);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			drop(fd);
			return;
		}
		w = 0;
	}
	if (w == r)
		return;
	struct conn *c = &conns[fd];
	c->len = (unsigned)(r - w);
	c->off = 0;
	c->pend = malloc(c->len);
	if (!c->pend)
		die("malloc");
	memcpy(c->pend, buf + w, c->len);
	want(fd, EPOLLOUT);
}

static void accept_all(int lfd)
{
	/* Bounded by the backlog: accept4 fails with EAGAIN once it is empty. */
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or EMFILE and the like: try on the next wake-up */
		if (fd >= nconns) {
			close(fd);
			continue;
		}
		nodelay(fd);
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
	}
}

int main(int argc, char **argv)
{
	int port = parse_args(argc, argv);
	nconns = maxfds();
	conns = calloc((size_t)nconns, sizeof *conns);
	if (!conns)
		die("calloc");
	int lfd = listen_loopback(port, SOCK_NONBLOCK, &port);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl");
	announce(port);

	struct epoll_event evs[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd)
				accept_all(lfd);
			else if (conns[fd].pend)
				flush(fd);
			else
				echo(fd);
		}
	}
}
