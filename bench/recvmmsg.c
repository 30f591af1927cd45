/*
 * recvmmsg.c - the reference UDP receiver for bench/ingest.sh.
 *
 * Binds one UDP socket, reads with recvmmsg in batches of 64 and only counts
 * datagrams and bytes: the most a single reader can take from the kernel.
 * wirebridge's udp source is compared against it at the same send rate.
 *
 *   recvmmsg [-a ADDR] [-p PORT] [-b RCVBUF] [-t SECONDS]
 *
 * Prints "received=N bytes=B rcvbuf=R" on SIGINT/SIGTERM or after SECONDS
 * (0, the default: run until a signal). -b sets the receive buffer like
 * wirebridge's udp source does (default 4 MiB, its default recv_buffer):
 * SO_RCVBUFFORCE, or SO_RCVBUF capped at net.core.rmem_max without
 * CAP_NET_ADMIN; the kernel doubles the value, rcvbuf= shows the result.
 * Writes "ready" to stderr once the socket is bound.
 *
 * Build: gcc -O2 -Wall -o recvmmsg bench/recvmmsg.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXDGRAM 9216

static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
	const char *addr = "127.0.0.1";
	int port = 6000, secs = 0, rcvbuf = 4 << 20, opt;
	while ((opt = getopt(argc, argv, "a:p:b:t:")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'b': rcvbuf = atoi(optarg); break;
		case 't': secs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-a ADDR] [-p PORT] [-b RCVBUF] [-t SECONDS]\n", argv[0]);
			return 2;
		}
	}

	/* No SA_RESTART: a signal interrupts the blocking recvmmsg with EINTR. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) { perror("socket"); return 1; }
	/* As wirebridge does: SO_RCVBUFFORCE (root passes net.core.rmem_max), else SO_RCVBUF. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) { perror("SO_RCVBUF"); return 1; }
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", addr); return 2; }
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) { perror("bind"); return 1; }
	int got = 0;
	socklen_t gl = sizeof got;
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
	fprintf(stderr, "ready\n");
	if (secs > 0) alarm((unsigned)secs);

	static char bufs[BATCH][MAXDGRAM];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = MAXDGRAM;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	unsigned long long count = 0, bytes = 0;
	while (!stop) {
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR) continue;
			perror("recvmmsg");
			return 1;
		}
		count += (unsigned long long)n;
		for (int i = 0; i < n; i++) bytes += msgs[i].msg_len;
	}
	printf("received=%llu bytes=%llu rcvbuf=%d\n", count, bytes, got);
	fflush(stdout);
	close(fd);
	return 0;
}
