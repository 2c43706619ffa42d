/* ferry-netem.c — delay and random loss for the NAT lab, where the kernel has no netem qdisc.
 *
 *   ferry-netem [-q QUEUE] [-d DELAY_MS] [-l LOSS_PERCENT] [-s SEED]
 *
 * An nftables rule sends packets to NFQUEUE QUEUE (default 0) in one namespace; this helper
 * receives only their metadata, drops a random LOSS_PERCENT of them at once and holds the
 * verdict for the rest until DELAY_MS after arrival, then accepts them by packet id. With one
 * constant delay the release order is the arrival order, so a ring buffer is the whole
 * schedule. Prints "ready" on stdout once the queue is bound (packets sent to a queue nobody
 * listens on are dropped, so lab.sh adds the rule only after that line). SIGTERM/SIGINT
 * release every held packet and exit.
 *
 * Rate limits need no helper: lab.sh puts a TBF qdisc on the interfaces.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define RING_SIZE   65536          /* packets held at once */
#define KERNEL_QLEN 65536          /* the kernel's own queue before it drops */
#define RCVBUF      (16 << 20)

typedef struct
{
  uint32_t id;
  int64_t  due_us;
} Held;

static Held ring[RING_SIZE];
static size_t ring_head, ring_len;
static int64_t delay_us;
static double loss;
static unsigned long n_seen, n_lost, n_overflow;
static volatile sig_atomic_t stopping;

static int64_t
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
packet_cb (struct nfq_q_handle *qh,
           struct nfgenmsg     *msg,
           struct nfq_data     *nfa,
           void                *data)
{
  struct nfqnl_msg_packet_hdr *header = nfq_get_msg_packet_hdr (nfa);
  uint32_t id;

  if (header == NULL)
    return 0;
  id = ntohl (header->packet_id);
  n_seen++;

  if (loss > 0 && drand48 () * 100.0 < loss)
    {
      n_lost++;
      return nfq_set_verdict (qh, id, NF_DROP, 0, NULL);
    }
  if (delay_us == 0)
    return nfq_set_verdict (qh, id, NF_ACCEPT, 0, NULL);
  if (ring_len == RING_SIZE)
    {
      n_overflow++;
      return nfq_set_verdict (qh, id, NF_DROP, 0, NULL);
    }

  ring[(ring_head + ring_len) % RING_SIZE] = (Held) { id, now_us () + delay_us };
  ring_len++;
  return 0;
}

static void
release_due (struct nfq_q_handle *qh,
             int64_t              now)
{
  while (ring_len > 0 && ring[ring_head].due_us <= now)
    {
      nfq_set_verdict (qh, ring[ring_head].id, NF_ACCEPT, 0, NULL);
      ring_head = (ring_head + 1) % RING_SIZE;
      ring_len--;
    }
}

static void
stop_cb (int signum)
{
  stopping = 1;
}

int
main (int    argc,
      char **argv)
{
  struct nfq_handle *h;
  struct nfq_q_handle *qh;
  struct sigaction sa = { .sa_handler = stop_cb };
  long queue = 0, seed = (long) time (NULL);
  char buffer[65536] __attribute__ ((aligned));
  int opt, fd, one = 1;

  while ((opt = getopt (argc, argv, "q:d:l:s:")) != -1)
    {
      switch (opt)
        {
        case 'q': queue = strtol (optarg, NULL, 10); break;
        case 'd': delay_us = (int64_t) (strtod (optarg, NULL) * 1000); break;
        case 'l': loss = strtod (optarg, NULL); break;
        case 's': seed = strtol (optarg, NULL, 10); break;
        default:
          fprintf (stderr, "usage: ferry-netem [-q QUEUE] [-d DELAY_MS] [-l LOSS_%%] [-s SEED]\n");
          return 2;
        }
    }
  if (queue < 0 || queue > 65535 || delay_us < 0 || loss < 0 || loss > 100)
    {
      fprintf (stderr, "ferry-netem: bad arguments\n");
      return 2;
    }
  srand48 (seed);

  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  h = nfq_open ();
  if (h == NULL)
    {
      perror ("ferry-netem: nfq_open");
      return 1;
    }
  qh = nfq_create_queue (h, (uint16_t) queue, packet_cb, NULL);
  if (qh == NULL)
    {
      perror ("ferry-netem: nfq_create_queue");
      nfq_close (h);
      return 1;
    }
  /* The verdict needs only the packet id: copy no payload. */
  if (nfq_set_mode (qh, NFQNL_COPY_META, 0) < 0
      || nfq_set_queue_maxlen (qh, KERNEL_QLEN) < 0)
    {
      perror ("ferry-netem: configuring the queue");
      nfq_destroy_queue (qh);
      nfq_close (h);
      return 1;
    }
  nfnl_rcvbufsiz (nfq_nfnlh (h), RCVBUF);
  fd = nfq_fd (h);
  /* A burst that overflows the socket must not stop the loop with ENOBUFS. */
  setsockopt (fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);

  printf ("ready\n");
  fflush (stdout);

  while (!stopping)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      int64_t now = now_us ();
      int timeout = -1;

      if (ring_len > 0)
        {
          int64_t wait = ring[ring_head].due_us - now;

          timeout = wait <= 0 ? 0 : (int) ((wait + 999) / 1000);
        }
      if (poll (&pfd, 1, timeout) > 0)
        {
          /* Take everything that is there without blocking. */
          for (;;)
            {
              ssize_t n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT);

              if (n < 0)
                break;
              nfq_handle_packet (h, buffer, (int) n);
            }
        }
      release_due (qh, now_us ());
    }

  /* Held packets go on rather than vanish. */
  release_due (qh, INT64_MAX);
  fprintf (stderr, "ferry-netem: %lu packets, %lu lost on purpose, %lu dropped (full)\n",
           n_seen, n_lost, n_overflow);
  nfq_destroy_queue (qh);
  nfq_close (h);
  return 0;
}
