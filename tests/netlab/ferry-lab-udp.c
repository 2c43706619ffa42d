/* ferry-lab-udp.c
 *
 * A tiny UDP tool for the NAT lab's smoke tests, so they depend on nothing but the build:
 *
 *   ferry-lab-udp echo ADDR PORT
 *       answers every datagram with the text "ADDR:PORT" of its sender, i.e. the address the
 *       NATs in between made of it (a minimal reflector, like a STUN server).
 *   ferry-lab-udp probe [-p LOCAL_PORT] [-t TIMEOUT_MS] ADDR:PORT…
 *       sends from ONE socket to every destination in turn and prints one line per
 *       destination: the reflected "ADDR:PORT", "timeout" or "error: …". Retransmits every
 *       100 ms until the timeout (default 1000 ms).
 *   ferry-lab-udp recv PORT [TIMEOUT_MS]
 *       waits for one datagram on PORT and prints "SENDER_ADDR:PORT PAYLOAD"; exit 1 on timeout.
 *   ferry-lab-udp send [-p LOCAL_PORT] ADDR:PORT PAYLOAD
 *       sends one datagram.
 *   ferry-lab-udp mirror ADDR PORT
 *       sends every datagram back unchanged.
 *   ferry-lab-udp ping [-c COUNT] [-i INTERVAL_MS] [-t WAIT_MS] [-s SIZE] ADDR:PORT
 *       sends COUNT numbered datagrams to a mirror and prints
 *       "sent N received M min MS avg MS max MS" (round-trip times of the answered ones).
 *   ferry-lab-udp tcp-sink PORT
 *       accepts one TCP connection, reads it to the end and prints
 *       "received bytes B seconds S kbps R" (measured from the first read to the last).
 *   ferry-lab-udp tcp-send ADDR:PORT BYTES
 *       sends BYTES zero bytes over one TCP connection (TCP follows the link's rate).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int
parse_endpoint (const char         *text,
                struct sockaddr_in *sin)
{
  char host[64];
  const char *colon = strrchr (text, ':');
  long port;

  if (colon == NULL || (size_t) (colon - text) >= sizeof host)
    return -1;
  memcpy (host, text, colon - text);
  host[colon - text] = '\0';
  port = strtol (colon + 1, NULL, 10);
  if (port <= 0 || port > 65535)
    return -1;
  memset (sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  sin->sin_port = htons ((unsigned short) port);
  return inet_pton (AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

static int
bound_socket (const char *addr,
              long        port)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons ((unsigned short) port) };
  int fd = socket (AF_INET, SOCK_DGRAM, 0);

  if (fd < 0)
    return -1;
  if (addr != NULL && inet_pton (AF_INET, addr, &sin.sin_addr) != 1)
    {
      close (fd);
      errno = EINVAL;
      return -1;
    }
  if (bind (fd, (struct sockaddr *) &sin, sizeof sin) < 0)
    {
      close (fd);
      return -1;
    }
  return fd;
}

static long
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
do_echo (const char *addr,
         const char *port)
{
  int fd = bound_socket (addr, strtol (port, NULL, 10));

  if (fd < 0)
    {
      perror ("ferry-lab-udp: bind");
      return 1;
    }
  for (;;)
    {
      char buf[2048], reply[64], text[INET_ADDRSTRLEN];
      struct sockaddr_in from;
      socklen_t len = sizeof from;
      int n;

      if (recvfrom (fd, buf, sizeof buf, 0, (struct sockaddr *) &from, &len) < 0)
        continue;
      inet_ntop (AF_INET, &from.sin_addr, text, sizeof text);
      n = snprintf (reply, sizeof reply, "%s:%u", text, ntohs (from.sin_port));
      sendto (fd, reply, n, 0, (struct sockaddr *) &from, len);
    }
}

static int
do_probe (int    argc,
          char **argv)
{
  long local_port = 0, timeout = 1000;
  int opt, fd;

  while ((opt = getopt (argc, argv, "p:t:")) != -1)
    {
      if (opt == 'p')
        local_port = strtol (optarg, NULL, 10);
      else if (opt == 't')
        timeout = strtol (optarg, NULL, 10);
      else
        return 2;
    }
  fd = bound_socket (NULL, local_port);
  if (fd < 0)
    {
      perror ("ferry-lab-udp: bind");
      return 1;
    }
  for (int i = optind; i < argc; i++)
    {
      struct sockaddr_in to;
      long deadline = now_ms () + timeout, next_send = 0;
      int answered = 0;

      if (parse_endpoint (argv[i], &to) < 0)
        {
          printf ("error: bad endpoint %s\n", argv[i]);
          continue;
        }
      while (!answered && now_ms () < deadline)
        {
          struct pollfd pfd = { .fd = fd, .events = POLLIN };
          long now = now_ms ();

          if (now >= next_send)
            {
              if (sendto (fd, "probe", 5, 0, (struct sockaddr *) &to, sizeof to) < 0)
                {
                  printf ("error: %s\n", strerror (errno));
                  answered = -1;
                  break;
                }
              next_send = now + 100;
            }
          if (poll (&pfd, 1, (int) (next_send - now)) > 0)
            {
              char buf[128];
              struct sockaddr_in from;
              socklen_t len = sizeof from;
              ssize_t n = recvfrom (fd, buf, sizeof buf - 1, 0, (struct sockaddr *) &from, &len);

              /* Only the destination's own answer counts. */
              if (n > 0 && from.sin_addr.s_addr == to.sin_addr.s_addr
                  && from.sin_port == to.sin_port)
                {
                  buf[n] = '\0';
                  printf ("%s\n", buf);
                  answered = 1;
                }
            }
        }
      if (!answered)
        printf ("timeout\n");
      fflush (stdout);
    }
  close (fd);
  return 0;
}

static int
do_recv (const char *port,
         const char *timeout)
{
  int fd = bound_socket (NULL, strtol (port, NULL, 10));
  struct pollfd pfd = { .events = POLLIN };
  char buf[2048], text[INET_ADDRSTRLEN];
  struct sockaddr_in from;
  socklen_t len = sizeof from;
  ssize_t n;

  if (fd < 0)
    {
      perror ("ferry-lab-udp: bind");
      return 1;
    }
  /* Tell a waiting parent the socket is bound before the first datagram may come. */
  printf ("bound\n");
  fflush (stdout);
  pfd.fd = fd;
  if (poll (&pfd, 1, timeout ? (int) strtol (timeout, NULL, 10) : 5000) <= 0)
    {
      printf ("timeout\n");
      return 1;
    }
  n = recvfrom (fd, buf, sizeof buf - 1, 0, (struct sockaddr *) &from, &len);
  if (n < 0)
    return 1;
  buf[n] = '\0';
  inet_ntop (AF_INET, &from.sin_addr, text, sizeof text);
  printf ("%s:%u %s\n", text, ntohs (from.sin_port), buf);
  return 0;
}

static int
do_send (int    argc,
         char **argv)
{
  long local_port = 0;
  struct sockaddr_in to;
  int opt, fd;

  while ((opt = getopt (argc, argv, "p:")) != -1)
    {
      if (opt == 'p')
        local_port = strtol (optarg, NULL, 10);
      else
        return 2;
    }
  if (argc - optind != 2 || parse_endpoint (argv[optind], &to) < 0)
    return 2;
  fd = bound_socket (NULL, local_port);
  if (fd < 0 || sendto (fd, argv[optind + 1], strlen (argv[optind + 1]), 0,
                        (struct sockaddr *) &to, sizeof to) < 0)
    {
      perror ("ferry-lab-udp: send");
      return 1;
    }
  close (fd);
  return 0;
}

static int
do_mirror (const char *addr,
           const char *port)
{
  int fd = bound_socket (addr, strtol (port, NULL, 10));

  if (fd < 0)
    {
      perror ("ferry-lab-udp: bind");
      return 1;
    }
  for (;;)
    {
      char buf[65536];
      struct sockaddr_in from;
      socklen_t len = sizeof from;
      ssize_t n = recvfrom (fd, buf, sizeof buf, 0, (struct sockaddr *) &from, &len);

      if (n >= 0)
        sendto (fd, buf, n, 0, (struct sockaddr *) &from, len);
    }
}

static double
now_ms_f (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int
do_ping (int    argc,
         char **argv)
{
  long count = 10, interval = 20, wait = 1000, size = 64, received = 0, next = 0;
  double *sent_at, min = 1e9, max = 0, sum = 0, last_send = 0;
  char *answered;
  struct sockaddr_in to;
  int opt, fd;

  while ((opt = getopt (argc, argv, "c:i:t:s:")) != -1)
    {
      if (opt == 'c')
        count = strtol (optarg, NULL, 10);
      else if (opt == 'i')
        interval = strtol (optarg, NULL, 10);
      else if (opt == 't')
        wait = strtol (optarg, NULL, 10);
      else if (opt == 's')
        size = strtol (optarg, NULL, 10);
      else
        return 2;
    }
  if (argc - optind != 1 || parse_endpoint (argv[optind], &to) < 0 || count <= 0
      || size < 16 || size > 8192)
    return 2;
  fd = bound_socket (NULL, 0);
  if (fd < 0)
    return 1;
  sent_at = calloc (count, sizeof *sent_at);
  answered = calloc (count, 1);

  for (;;)
    {
      double now = now_ms_f ();
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      double until;

      if (next < count && now >= last_send + interval)
        {
          char buf[8192] = { 0 };

          snprintf (buf, sizeof buf, "seq %ld", next);
          sent_at[next] = now;
          last_send = now;
          sendto (fd, buf, size, 0, (struct sockaddr *) &to, sizeof to);
          next++;
          continue;
        }
      if (received == count || (next == count && now >= last_send + wait))
        break;
      until = next < count ? last_send + interval : last_send + wait;
      if (poll (&pfd, 1, (int) (until - now) + 1) > 0)
        {
          char buf[8192];
          ssize_t n = recv (fd, buf, sizeof buf - 1, 0);
          long seq;

          if (n <= 0)
            continue;
          buf[n] = '\0';
          if (sscanf (buf, "seq %ld", &seq) == 1 && seq >= 0 && seq < next && !answered[seq])
            {
              double rtt = now_ms_f () - sent_at[seq];

              answered[seq] = 1;
              received++;
              sum += rtt;
              min = rtt < min ? rtt : min;
              max = rtt > max ? rtt : max;
            }
        }
    }
  printf ("sent %ld received %ld min %.2f avg %.2f max %.2f\n", count, received,
          received ? min : 0, received ? sum / received : 0, max);
  free (sent_at);
  free (answered);
  close (fd);
  return 0;
}

static int
do_tcp_sink (const char *port)
{
  struct sockaddr_in sin = { .sin_family = AF_INET,
                             .sin_port = htons ((unsigned short) strtol (port, NULL, 10)) };
  int fd = socket (AF_INET, SOCK_STREAM, 0), one = 1, conn;
  double first = 0, last = 0;
  long bytes = 0, first_bytes = 0;

  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind (fd, (struct sockaddr *) &sin, sizeof sin) < 0 || listen (fd, 1) < 0)
    {
      perror ("ferry-lab-udp: tcp-sink");
      return 1;
    }
  printf ("bound\n");
  fflush (stdout);
  conn = accept (fd, NULL, NULL);
  if (conn < 0)
    return 1;
  for (;;)
    {
      char buf[65536];
      ssize_t n = recv (conn, buf, sizeof buf, 0);

      if (n <= 0)
        break;
      last = now_ms_f ();
      if (bytes == 0)
        {
          first = last;
          first_bytes = n;
        }
      bytes += n;
    }
  /* The rate counts what arrived after the first read, over the time it took. */
  printf ("received bytes %ld seconds %.3f kbps %.0f\n", bytes, (last - first) / 1000.0,
          last > first ? (bytes - first_bytes) * 8.0 / (last - first) : 0.0);
  close (conn);
  close (fd);
  return 0;
}

static int
do_tcp_send (const char *endpoint,
             const char *count)
{
  struct sockaddr_in to;
  long left = strtol (count, NULL, 10);
  char buf[16384] = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  if (fd < 0 || parse_endpoint (endpoint, &to) < 0
      || connect (fd, (struct sockaddr *) &to, sizeof to) < 0)
    {
      perror ("ferry-lab-udp: tcp-send");
      return 1;
    }
  while (left > 0)
    {
      ssize_t n = send (fd, buf, left < (long) sizeof buf ? (size_t) left : sizeof buf, 0);

      if (n < 0)
        {
          perror ("ferry-lab-udp: tcp-send");
          return 1;
        }
      left -= n;
    }
  close (fd);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  if (argc >= 4 && strcmp (argv[1], "echo") == 0)
    return do_echo (argv[2], argv[3]);
  if (argc >= 3 && strcmp (argv[1], "probe") == 0)
    return do_probe (argc - 1, argv + 1);
  if (argc >= 3 && strcmp (argv[1], "recv") == 0)
    return do_recv (argv[2], argc > 3 ? argv[3] : NULL);
  if (argc >= 4 && strcmp (argv[1], "send") == 0)
    return do_send (argc - 1, argv + 1);
  if (argc >= 4 && strcmp (argv[1], "mirror") == 0)
    return do_mirror (argv[2], argv[3]);
  if (argc >= 3 && strcmp (argv[1], "ping") == 0)
    return do_ping (argc - 1, argv + 1);
  if (argc >= 3 && strcmp (argv[1], "tcp-sink") == 0)
    return do_tcp_sink (argv[2]);
  if (argc >= 4 && strcmp (argv[1], "tcp-send") == 0)
    return do_tcp_send (argv[2], argv[3]);
  fprintf (stderr, "usage: ferry-lab-udp echo ADDR PORT | probe [-p PORT] [-t MS] ADDR:PORT… |"
           " recv PORT [MS] | send [-p PORT] ADDR:PORT PAYLOAD | mirror ADDR PORT |"
           " ping [-c N] [-i MS] [-t MS] [-s SIZE] ADDR:PORT | tcp-sink PORT |"
           " tcp-send ADDR:PORT BYTES\n");
  return 2;
}
