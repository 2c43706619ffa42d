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
  fprintf (stderr, "usage: ferry-lab-udp echo ADDR PORT | probe [-p PORT] [-t MS] ADDR:PORT… |"
           " recv PORT [MS] | send [-p PORT] ADDR:PORT PAYLOAD\n");
  return 2;
}
