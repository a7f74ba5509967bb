/* tcp_proxy.c - see tcp_proxy.h. */
#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 128

typedef struct {
   int a, b; /* client side, server side; -1 when free */
} pair_t;

struct tk_tcp_proxy {
   int listen_fd;
   int port;
   struct sockaddr_in target;
   int ctl[2]; /* commands to the thread: 'c'ut, 'r'estore, 'q'uit */
   int ack[2]; /* the thread's acknowledgements */
   pthread_t thread;
   pair_t pairs[MAX_PAIRS];
   bool cut;
};

static void
close_pair (pair_t *pr)
{
   if (pr->a >= 0) {
      close (pr->a);
   }
   if (pr->b >= 0) {
      close (pr->b);
   }
   pr->a = pr->b = -1;
}

static void
accept_one (tk_tcp_proxy_t *p)
{
   int c = accept (p->listen_fd, NULL, NULL);
   if (c < 0) {
      return;
   }
   if (p->cut) {
      close (c); /* refused: the client sees the connection drop */
      return;
   }
   int s = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
   if (s < 0 || connect (s, (struct sockaddr *) &p->target, sizeof p->target) != 0) {
      close (c);
      if (s >= 0) {
         close (s);
      }
      return;
   }
   for (int i = 0; i < MAX_PAIRS; i++) {
      if (p->pairs[i].a < 0) {
         p->pairs[i].a = c;
         p->pairs[i].b = s;
         return;
      }
   }
   close (c);
   close (s);
}

/* Moves what is readable on from to to; false when either side is done. */
static bool
forward (int from, int to)
{
   char buf[65536];
   ssize_t n = read (from, buf, sizeof buf);
   if (n <= 0) {
      return false;
   }
   for (ssize_t off = 0; off < n;) {
      ssize_t w = write (to, buf + off, (size_t) (n - off));
      if (w < 0) {
         if (errno == EINTR) {
            continue;
         }
         return false;
      }
      off += w;
   }
   return true;
}

static void *
run (void *arg)
{
   tk_tcp_proxy_t *p = arg;
   for (;;) {
      struct pollfd fds[2 + 2 * MAX_PAIRS];
      int idx[2 + 2 * MAX_PAIRS];
      int n = 0;
      fds[n++] = (struct pollfd){.fd = p->ctl[0], .events = POLLIN};
      fds[n++] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
      for (int i = 0; i < MAX_PAIRS; i++) {
         if (p->pairs[i].a >= 0) {
            idx[n] = i;
            fds[n++] = (struct pollfd){.fd = p->pairs[i].a, .events = POLLIN};
            idx[n] = i;
            fds[n++] = (struct pollfd){.fd = p->pairs[i].b, .events = POLLIN};
         }
      }
      if (poll (fds, (nfds_t) n, -1) < 0) {
         if (errno == EINTR) {
            continue;
         }
         break;
      }
      if (fds[0].revents) {
         char cmd = 0;
         if (read (p->ctl[0], &cmd, 1) != 1 || cmd == 'q') {
            break;
         }
         if (cmd == 'c') {
            p->cut = true;
            for (int i = 0; i < MAX_PAIRS; i++) {
               close_pair (&p->pairs[i]);
            }
         } else if (cmd == 'r') {
            p->cut = false;
         }
         (void) !write (p->ack[1], &cmd, 1);
         continue; /* the fds gathered above may be closed now */
      }
      if (fds[1].revents) {
         accept_one (p);
      }
      for (int k = 2; k < n; k++) {
         if (!fds[k].revents) {
            continue;
         }
         pair_t *pr = &p->pairs[idx[k]];
         if (pr->a < 0) {
            continue;
         }
         int other = fds[k].fd == pr->a ? pr->b : pr->a;
         if (!forward (fds[k].fd, other)) {
            close_pair (pr);
         }
      }
   }
   for (int i = 0; i < MAX_PAIRS; i++) {
      close_pair (&p->pairs[i]);
   }
   return NULL;
}

tk_tcp_proxy_t *
tk_tcp_proxy_new (const char *target_host, int target_port)
{
   tk_tcp_proxy_t *p = calloc (1, sizeof *p);
   if (!p) {
      return NULL;
   }
   for (int i = 0; i < MAX_PAIRS; i++) {
      p->pairs[i].a = p->pairs[i].b = -1;
   }
   p->target.sin_family = AF_INET;
   p->target.sin_port = htons ((uint16_t) target_port);
   inet_pton (AF_INET, target_host, &p->target.sin_addr);
   struct sockaddr_in addr = {.sin_family = AF_INET};
   addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
   socklen_t alen = sizeof addr;
   p->listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
   if (p->listen_fd < 0 || bind (p->listen_fd, (struct sockaddr *) &addr, sizeof addr) != 0 ||
       listen (p->listen_fd, 64) != 0 ||
       getsockname (p->listen_fd, (struct sockaddr *) &addr, &alen) != 0 ||
       pipe2 (p->ctl, O_CLOEXEC) != 0 || pipe2 (p->ack, O_CLOEXEC) != 0) {
      if (p->listen_fd >= 0) {
         close (p->listen_fd);
      }
      free (p);
      return NULL;
   }
   p->port = ntohs (addr.sin_port);
   if (pthread_create (&p->thread, NULL, run, p) != 0) {
      close (p->listen_fd);
      free (p);
      return NULL;
   }
   return p;
}

int
tk_tcp_proxy_port (const tk_tcp_proxy_t *p)
{
   return p->port;
}

static void
command (tk_tcp_proxy_t *p, char cmd)
{
   char ack;
   (void) !write (p->ctl[1], &cmd, 1);
   (void) !read (p->ack[0], &ack, 1);
}

void
tk_tcp_proxy_cut (tk_tcp_proxy_t *p)
{
   command (p, 'c');
}

void
tk_tcp_proxy_restore (tk_tcp_proxy_t *p)
{
   command (p, 'r');
}

void
tk_tcp_proxy_destroy (tk_tcp_proxy_t *p)
{
   if (!p) {
      return;
   }
   char q = 'q';
   (void) !write (p->ctl[1], &q, 1);
   pthread_join (p->thread, NULL);
   close (p->listen_fd);
   close (p->ctl[0]);
   close (p->ctl[1]);
   close (p->ack[0]);
   close (p->ack[1]);
   free (p);
}
