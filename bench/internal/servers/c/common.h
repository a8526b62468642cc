/*
 * common.h: what the two C echo servers share (the ceiling baselines of
 * cmd/compare, libs c-epoll and c-uring). Header-only so each server is
 * one gcc invocation: gcc -O2 -o c-epoll epoll.c.
 *
 * Both are raw TCP echo servers, exactly what the Go "tcp" lib serves:
 * every byte read is written back, nothing else. Both listen on
 * 127.0.0.1 only, print "ws://127.0.0.1:PORT/" on the first line of
 * standard output (the line cmd/compare waits for, as from benchserver)
 * and run until killed, or for at most -t seconds (default 7200), so no
 * instance outlives its run even if nobody kills it.
 *
 *	c-epoll [-addr 127.0.0.1:0] [-t seconds]
 */
#ifndef WSPIPE_BENCH_COMMON_H
#define WSPIPE_BENCH_COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Exit status of a server that cannot run here (io_uring unavailable):
 * cmd/compare reports the lib as skipped with the message on stderr. */
#define EXIT_SKIP 77

static void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

static void on_lifetime(int sig)
{
	(void)sig;
	static const char msg[] = "lifetime (-t) reached, exiting\n";
	if (write(2, msg, sizeof msg - 1) < 0) {
		/* nothing to do */
	}
	_exit(0);
}

/* maxfds raises the soft RLIMIT_NOFILE to the hard limit (the idle
 * scenario holds thousands of connections) and returns it. */
static int maxfds(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit");
	}
	if (rl.rlim_cur > 1 << 20)
		return 1 << 20;
	return (int)rl.rlim_cur;
}

/* parse_args reads -addr host:port (host must be 127.0.0.1 or empty) and
 * -t seconds, and arms the lifetime alarm. */
static int parse_args(int argc, char **argv)
{
	int port = 0;
	unsigned lifetime = 7200;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-addr") == 0 && i + 1 < argc) {
			const char *colon = strrchr(argv[++i], ':');
			if (!colon) {
				fprintf(stderr, "-addr %s: want 127.0.0.1:PORT\n", argv[i]);
				exit(2);
			}
			port = atoi(colon + 1);
		} else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			lifetime = (unsigned)atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [-addr 127.0.0.1:PORT] [-t seconds]\n", argv[0]);
			exit(2);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_lifetime);
	alarm(lifetime);
	return port;
}

/* listen_loopback listens on 127.0.0.1:port; flags are socket(2) type
 * flags (SOCK_NONBLOCK for epoll). *bound receives the port. */
static int listen_loopback(int port, int flags, int *bound)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("getsockname");
	*bound = ntohs(sa.sin_port);
	return fd;
}

/* nodelay sets TCP_NODELAY, as Go does on every TCP connection. */
static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void announce(int port)
{
	printf("ws://127.0.0.1:%d/\n", port);
	fflush(stdout);
}

#endif
