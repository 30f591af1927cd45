/*
 * appliance-echo.c - the reference Geneve echo for bench/appliance.sh.
 *
 * The least a GWLB appliance can do: return every Geneve datagram as it came,
 * with the outer IPv4 source and destination swapped and the UDP ports kept.
 * wirebridge's inline appliance (internal/appliance) is compared against it on
 * the same rig in the same run.
 *
 * It replies the way the appliance does, so the two do the same kernel work:
 * recvmmsg on SO_REUSEPORT UDP sockets (one thread each, IP_PKTINFO for the
 * local address), then the outer IPv4 + UDP headers written in front of each
 * datagram (addresses swapped, ports kept, IPv4 checksum and UDP checksum
 * computed; -z leaves the UDP checksum 0) and sendmmsg on a raw IPv4 socket
 * (IPPROTO_RAW, needs CAP_NET_RAW). No inspection, no rewrite.
 *
 *   appliance-echo [-a ADDR] [-p PORT] [-n READERS] [-B BATCH] [-b BUF] [-z] [-t SECONDS] [-w]
 *
 * Defaults: 0.0.0.0:6081, 2 readers, batch 64, 8 MiB buffers (SO_RCVBUFFORCE /
 * SO_SNDBUFFORCE, as the appliance sets them). Prints
 * "received=N returned=M" on SIGINT/SIGTERM or after SECONDS (0, the
 * default: run until a signal). Writes "ready" to stderr once bound.
 *
 * -w measures where a round trip's time goes on the echo's side: the
 * kernel's receive timestamp of each batch's first datagram (SO_TIMESTAMPNS)
 * to recvmmsg's return ("wake": the thread being woken and scheduled), and
 * recvmmsg's return to sendmmsg's ("work"), and prints their p50/p99/max at
 * the end. Off by default (the timestamps cost a little).
 *
 * Build: gcc -O2 -Wall -pthread -o appliance-echo bench/appliance-echo.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXBATCH 1024
#define SLOT 9016 /* 9,001-byte MTU, rounded up */
#define OUTER 28  /* IPv4 (20) + UDP (8) written in front of the datagram */

static struct in_addr bind_addr;
static int port = 6081, readers = 2, batch = 64, bufsize = 8 << 20, zero_csum, wake_stats;
static volatile sig_atomic_t stop;
static atomic_ullong received, returned;
static pthread_barrier_t bound; /* every reader bound: ready */

static void on_signal(int sig) { (void)sig; stop = 1; }

/* -w: log2 histograms (ns) of wake and work, shared by the readers. */
#define BUCKETS 40
static atomic_ullong wake_hist[BUCKETS], work_hist[BUCKETS];

static int64_t ns(clockid_t c) {
	struct timespec t;
	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void observe(atomic_ullong *h, int64_t v) {
	int b = 0;
	while (b < BUCKETS - 1 && v >= (int64_t)1 << (b + 1))
		b++;
	atomic_fetch_add(&h[b], 1);
}

/* quantile returns the upper bound (ns) of the bucket holding quantile q. */
static int64_t quantile(atomic_ullong *h, double q) {
	unsigned long long total = 0, seen = 0;
	for (int b = 0; b < BUCKETS; b++)
		total += h[b];
	for (int b = 0; b < BUCKETS; b++) {
		seen += h[b];
		if (total && seen >= q * total)
			return (int64_t)1 << (b + 1);
	}
	return 0;
}

static void print_hist(const char *name, atomic_ullong *h) {
	printf("%s p50<%lldus p99<%lldus max<%lldus\n", name, (long long)quantile(h, 0.5) / 1000,
	       (long long)quantile(h, 0.99) / 1000, (long long)quantile(h, 1.0) / 1000);
}

static uint32_t sum16(const uint8_t *b, size_t n, uint32_t s) {
	for (; n >= 2; b += 2, n -= 2)
		s += (uint32_t)b[0] << 8 | b[1];
	if (n)
		s += (uint32_t)b[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s) {
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }

/* reply writes the outer headers in front of the n-byte datagram at pkt+OUTER:
 * from local (the address it was sent to) back to the sender, ports kept. */
static void reply(uint8_t *pkt, size_t n, struct in_addr local, struct sockaddr_in *from) {
	size_t total = OUTER + n;
	memset(pkt, 0, OUTER);
	pkt[0] = 0x45;
	put16(pkt + 2, (uint16_t)total);
	put16(pkt + 6, 0x4000); /* DF; id 0: the kernel picks one */
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, &local.s_addr, 4);
	memcpy(pkt + 16, &from->sin_addr.s_addr, 4);
	put16(pkt + 10, fold(sum16(pkt, 20, 0)));
	uint8_t *udp = pkt + 20;
	memcpy(udp, &from->sin_port, 2); /* source: the sender's port */
	put16(udp + 2, (uint16_t)port);   /* destination: ours */
	put16(udp + 4, (uint16_t)(n + 8));
	if (!zero_csum) {
		uint32_t s = sum16(pkt + 12, 8, 0) + IPPROTO_UDP + (uint32_t)(n + 8);
		uint16_t c = fold(sum16(udp, n + 8, s));
		put16(udp + 6, c ? c : 0xffff);
	}
}

static void *reader(void *arg) {
	(void)arg;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0) {
		perror("socket");
		exit(1);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof bufsize) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
	if (wake_stats)
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
	struct timeval tv = {0, 200000}; /* wake up to notice stop */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = bind_addr};
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("bind");
		exit(1);
	}
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (raw < 0) {
		perror("raw socket (needs CAP_NET_RAW)");
		exit(1);
	}
	if (setsockopt(raw, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof bufsize) < 0)
		setsockopt(raw, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);

	uint8_t *buf = malloc((size_t)batch * SLOT);
	struct mmsghdr *in = calloc(batch, sizeof *in), *out = calloc(batch, sizeof *out);
	struct iovec *iin = calloc(batch, sizeof *iin), *iout = calloc(batch, sizeof *iout);
	struct sockaddr_in *from = calloc(batch, sizeof *from), *to = calloc(batch, sizeof *to);
	char (*ctrl)[64] = calloc(batch, 64);
	if (!buf || !in || !out || !iin || !iout || !from || !to || !ctrl) {
		perror("malloc");
		exit(1);
	}
	pthread_barrier_wait(&bound);
	for (;;) {
		for (int i = 0; i < batch; i++) {
			iin[i].iov_base = buf + (size_t)i * SLOT + OUTER;
			iin[i].iov_len = SLOT - OUTER;
			in[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i],
			                                .msg_iov = &iin[i], .msg_iovlen = 1,
			                                .msg_control = ctrl[i], .msg_controllen = sizeof ctrl[i]};
		}
		int n = recvmmsg(fd, in, batch, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (stop)
				break;
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("recvmmsg");
			exit(1);
		}
		atomic_fetch_add(&received, n);
		int64_t woke = wake_stats ? ns(CLOCK_REALTIME) : 0;
		if (wake_stats)
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&in[0].msg_hdr); c; c = CMSG_NXTHDR(&in[0].msg_hdr, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;
					memcpy(&ts, CMSG_DATA(c), sizeof ts);
					observe(wake_hist, woke - ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec));
				}
		int k = 0;
		for (int i = 0; i < n; i++) {
			if (in[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue;
			struct in_addr local = bind_addr;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&in[i].msg_hdr); c; c = CMSG_NXTHDR(&in[i].msg_hdr, c))
				if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
					local = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr;
			uint8_t *pkt = buf + (size_t)i * SLOT;
			reply(pkt, in[i].msg_len, local, &from[i]);
			iout[k] = (struct iovec){.iov_base = pkt, .iov_len = OUTER + in[i].msg_len};
			to[k] = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr = from[i].sin_addr};
			out[k].msg_hdr = (struct msghdr){.msg_name = &to[k], .msg_namelen = sizeof to[k],
			                                 .msg_iov = &iout[k], .msg_iovlen = 1};
			k++;
		}
		for (int sent = 0; sent < k;) {
			int m = sendmmsg(raw, out + sent, k - sent, 0);
			if (m < 0) {
				if (errno == EINTR)
					continue;
				sent++; /* skip the message the kernel refused */
				continue;
			}
			sent += m;
			atomic_fetch_add(&returned, m);
		}
		if (wake_stats)
			observe(work_hist, ns(CLOCK_REALTIME) - woke);
		if (stop)
			break;
	}
	return NULL;
}

int main(int argc, char **argv) {
	int seconds = 0, opt;
	bind_addr.s_addr = htonl(INADDR_ANY);
	while ((opt = getopt(argc, argv, "a:p:n:B:b:zt:w")) != -1) {
		switch (opt) {
		case 'a':
			if (inet_pton(AF_INET, optarg, &bind_addr) != 1) {
				fprintf(stderr, "bad address %s\n", optarg);
				return 2;
			}
			break;
		case 'p': port = atoi(optarg); break;
		case 'n': readers = atoi(optarg); break;
		case 'B': batch = atoi(optarg); break;
		case 'b': bufsize = atoi(optarg); break;
		case 'z': zero_csum = 1; break;
		case 't': seconds = atoi(optarg); break;
		case 'w': wake_stats = 1; break;
		default:
			fprintf(stderr, "usage: %s [-a ADDR] [-p PORT] [-n READERS] [-B BATCH] [-b BUF] [-z] [-t SECONDS] [-w]\n", argv[0]);
			return 2;
		}
	}
	if (readers < 1 || readers > 64 || batch < 1 || batch > MAXBATCH) {
		fprintf(stderr, "readers 1-64, batch 1-%d\n", MAXBATCH);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	pthread_t th[64];
	pthread_barrier_init(&bound, NULL, (unsigned)readers + 1);
	for (int i = 0; i < readers; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	pthread_barrier_wait(&bound);
	fprintf(stderr, "ready\n");
	if (seconds > 0) {
		sleep(seconds);
		stop = 1;
	}
	for (int i = 0; i < readers; i++)
		pthread_join(th[i], NULL);
	printf("received=%llu returned=%llu\n", (unsigned long long)received, (unsigned long long)returned);
	if (wake_stats) {
		print_hist("wake", wake_hist);
		print_hist("work", work_hist);
	}
	return 0;
}
