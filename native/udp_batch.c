// One UDP socket read and written in batches: recvmmsg fills up to `slots` queries into memory
// JS owns, JS answers the whole batch in one call, sendmmsg sends the answers back. Node's dgram
// makes a system call, a JS callback, an rinfo object and a Buffer per packet in each direction;
// here a batch costs two system calls and one callback. C only moves bytes: parsing and answering
// stay in TypeScript (src/dns/batched-udp.ts says how the shared memory is laid out).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

// Per slot in `peers`: family (4 or 6), 1 when the query was longer than its slot, the source
// port (big-endian), then the source address (4 or 16 bytes).
#define PEER_BYTES 20
// Batches read per wake-up before the event loop gets a turn (timers, TCP, IPC).
#define BATCHES_PER_WAKE 1

typedef struct {
  int fd;
  int closing;
  int shared;    // a copy of the socket the cluster shares: the workers take turns reading it
  int exclusive; // 1 while the loop watches it with EPOLLEXCLUSIVE (see wake_one)
  int lead;      // a unix socket bound to the shared socket's lead name once this one leads, else -1
  uv_poll_t poll;
  napi_env env;
  napi_ref buffers[4]; // in, out, meta, peers: kept alive while the socket is open
  napi_ref on_batch;
  napi_async_context async;
  unsigned slots, in_size, out_size;
  uint8_t *in, *out, *peers;
  int32_t *meta; // [2i] query length (read), [2i+1] answer length (written by JS, 0: none)
  struct mmsghdr *rmsg, *smsg;
  struct iovec *riov, *siov;
  struct sockaddr_storage *addr;
  unsigned pending_from, pending_to; // answers in smsg not yet sent (the socket said EAGAIN)
  double stats[5]; // datagrams read, answers sent, answers failed, EAGAIN waits, reading resumed
} sock_t;

#define CHECK(env, call)                                                                          \
  do {                                                                                            \
    if ((call) != napi_ok) return throw_last(env, #call);                                        \
  } while (0)

static napi_value throw_last(napi_env env, const char *what) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  napi_throw_error(env, NULL, info && info->error_message ? info->error_message : what);
  return NULL;
}

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, "ERR_BATCHED_UDP", msg);
  return NULL;
}

static void on_poll(uv_poll_t *handle, int status, int events);

/**
 * On the shared socket, every idle reader's loop (the lead's and any helper's, see js_lead) waits
 * for the same datagram; without EPOLLEXCLUSIVE the kernel wakes each one (a wake-up on another
 * core, the dearest step of a query on a VM), one worker gets it and the others sleep again. With
 * it the kernel wakes one worker that is waiting, passing over any that is busy or stopped, so the
 * free worker still takes the next batch. libuv has no such flag, so the loop's own entry (made by
 * uv_poll_start) is swapped in its epoll set: same fd, same data, EPOLLIN plus EPOLLEXCLUSIVE.
 * libuv may not MOD an exclusive entry (the kernel refuses and libuv aborts), so `on` = 0 puts the
 * plain entry back before the mask changes (waiting to write).
 */
static void wake_one(sock_t *s, int on) {
  if (!s->shared || s->exclusive == on) return;
  int ep = uv_backend_fd(s->poll.loop);
  struct epoll_event plain = {.events = EPOLLIN, .data = {.u64 = (uint64_t)s->fd}};
  struct epoll_event excl = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data = {.u64 = (uint64_t)s->fd}};
  s->exclusive = 0;
  // A datagram that lands between DEL and ADD is not missed: ADD reports a socket already readable.
  if (epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, on ? &excl : &plain) < 0) {
    // Refused (a kernel before 4.5): the plain entry stays or comes back, every idle worker is
    // woken as before, and this is not tried again.
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &plain);
    s->shared = 0;
    return;
  }
  s->exclusive = on;
}

/** Sends what is pending; 0 when the socket is full (wait until writable), 1 when all went. */
static int flush(sock_t *s) {
  while (s->pending_from < s->pending_to) {
    int n = sendmmsg(s->fd, s->smsg + s->pending_from, s->pending_to - s->pending_from, MSG_DONTWAIT);
    if (n > 0) {
      s->pending_from += (unsigned)n;
      s->stats[1] += n;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      s->stats[3]++;
      return 0;
    } else {
      // This answer cannot be sent (an unroutable or refused destination): skip it, not the rest.
      s->stats[2]++;
      s->pending_from++;
    }
  }
  return 1;
}

/** Hands JS a batch of n queries and queues the answers it wrote. 0: JS closed the socket. */
static int answer_batch(sock_t *s, int n) {
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &s->rmsg[i].msg_hdr;
    uint8_t *p = s->peers + (size_t)i * PEER_BYTES;
    s->meta[2 * i] = (int32_t)s->rmsg[i].msg_len;
    s->meta[2 * i + 1] = 0;
    p[1] = (h->msg_flags & MSG_TRUNC) ? 1 : 0;
    if (s->addr[i].ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s->addr[i];
      p[0] = 6;
      memcpy(p + 2, &a->sin6_port, 2);
      memcpy(p + 4, &a->sin6_addr, 16);
    } else {
      struct sockaddr_in *a = (struct sockaddr_in *)&s->addr[i];
      p[0] = 4;
      memcpy(p + 2, &a->sin_port, 2);
      memcpy(p + 4, &a->sin_addr, 4);
    }
  }
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_value fn, recv, count, result;
  napi_open_handle_scope(env, &scope);
  napi_get_reference_value(env, s->on_batch, &fn);
  napi_get_global(env, &recv); // make_callback wants an object as `this`
  napi_create_int32(env, n, &count);
  // make_callback, as Node's own handles do: promise jobs and nextTicks run when it returns.
  if (napi_make_callback(env, s->async, recv, fn, 1, &count, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_fatal_error("udp_batch", NAPI_AUTO_LENGTH, "onBatch could not be called", NAPI_AUTO_LENGTH);
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err); // JS catches its own errors: one escaping is a bug, said as one
  }
  napi_close_handle_scope(env, scope);
  if (s->closing) return 0;
  unsigned k = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = s->meta[2 * i + 1];
    if (len <= 0 || (unsigned)len > s->out_size) continue;
    s->siov[k].iov_base = s->out + (size_t)i * s->out_size;
    s->siov[k].iov_len = (size_t)len;
    s->smsg[k].msg_hdr.msg_name = &s->addr[i];
    s->smsg[k].msg_hdr.msg_namelen = s->rmsg[i].msg_hdr.msg_namelen;
    k++;
  }
  s->pending_from = 0;
  s->pending_to = k;
  return 1;
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  sock_t *s = handle->data;
  if (s->closing || status < 0) return;
  if (s->pending_from < s->pending_to) {
    // Answers wait for room: no new batch is read until they are sent (they live in `out`).
    if (!flush(s)) return;
    // libuv applies the readable mask before it next polls; the next wake makes it exclusive.
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
  } else {
    wake_one(s, 1); // libuv has the socket in its epoll set by now (this wake came from there)
  }
  (void)events;
  for (int round = 0; round < BATCHES_PER_WAKE; round++) {
    for (unsigned i = 0; i < s->slots; i++) {
      s->rmsg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      s->rmsg[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(s->fd, s->rmsg, s->slots, MSG_DONTWAIT, NULL);
    if (n <= 0) return; // EAGAIN: drained; other errors (an ICMP report) are retried next wake
    s->stats[0] += n;
    if (!answer_batch(s, n)) return;
    if (!flush(s)) {
      wake_one(s, 0);
      uv_poll_start(&s->poll, UV_WRITABLE, on_poll);
      return;
    }
    if ((unsigned)n < s->slots) return;
  }
}

static void *array_buffer(napi_env env, napi_value v, size_t want, napi_ref *ref) {
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, v, &data, &len) != napi_ok || len < want) return NULL;
  if (napi_create_reference(env, v, 1, ref) != napi_ok) return NULL;
  return data;
}

static int open_socket(const char *host, int port, int rcvbuf, struct sockaddr_storage *bound) {
  struct sockaddr_storage sa;
  socklen_t salen;
  memset(&sa, 0, sizeof sa);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    salen = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    salen = sizeof *a6;
  } else {
    errno = EINVAL;
    return -1;
  }
  int fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  // Each worker binds its own socket to the port: the kernel spreads clients over them and
  // each has its own receive buffer, so a burst is not one queue behind one reader.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
      (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) ||
      bind(fd, (struct sockaddr *)&sa, salen) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  socklen_t blen = sizeof *bound;
  getsockname(fd, (struct sockaddr *)bound, &blen);
  return fd;
}

/**
 * A copy of a UDP socket bound elsewhere (the one Node's cluster shares between the workers): this
 * worker reads it beside the others, whichever is free taking the next batch.
 */
static int adopt_socket(int shared, int rcvbuf, struct sockaddr_storage *bound) {
  int type = 0;
  socklen_t tlen = sizeof type;
  if (getsockopt(shared, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) return -1;
  if (type != SOCK_DGRAM) {
    errno = EPROTOTYPE;
    return -1;
  }
  int fd = fcntl(shared, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return -1;
  socklen_t blen = sizeof *bound;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
      (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) ||
      getsockname(fd, (struct sockaddr *)bound, &blen) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// open(host, port, rcvbuf, slots, inSize, outSize, in, out, meta, peers, onBatch[, sharedFd])
//   -> [socket, port bound, receive buffer the kernel gave]
// With sharedFd (>= 0) host and port are not used: the socket is a copy of that one.
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 11) {
    napi_throw_type_error(env, NULL, "open: 11 arguments expected");
    return NULL;
  }
  char host[64];
  size_t hlen;
  int32_t port, rcvbuf, slots, in_size, out_size;
  CHECK(env, napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hlen));
  CHECK(env, napi_get_value_int32(env, argv[1], &port));
  CHECK(env, napi_get_value_int32(env, argv[2], &rcvbuf));
  CHECK(env, napi_get_value_int32(env, argv[3], &slots));
  CHECK(env, napi_get_value_int32(env, argv[4], &in_size));
  CHECK(env, napi_get_value_int32(env, argv[5], &out_size));
  if (slots < 1 || slots > 1024 || in_size < 512 || out_size < 512) {
    napi_throw_range_error(env, NULL, "open: slots 1-1024, slot sizes >= 512");
    return NULL;
  }
  struct sockaddr_storage bound;
  int32_t shared = -1;
  if (argc > 11) CHECK(env, napi_get_value_int32(env, argv[11], &shared));
  int fd = shared >= 0 ? adopt_socket(shared, rcvbuf, &bound) : open_socket(host, port, rcvbuf, &bound);
  if (fd < 0) return throw_errno(env, shared >= 0 ? "shared socket" : "bind");

  sock_t *s = calloc(1, sizeof *s);
  s->fd = fd;
  s->shared = shared >= 0;
  s->lead = -1;
  s->env = env;
  s->slots = (unsigned)slots;
  s->in_size = (unsigned)in_size;
  s->out_size = (unsigned)out_size;
  s->in = array_buffer(env, argv[6], (size_t)slots * in_size, &s->buffers[0]);
  s->out = array_buffer(env, argv[7], (size_t)slots * out_size, &s->buffers[1]);
  s->meta = array_buffer(env, argv[8], (size_t)slots * 8, &s->buffers[2]);
  s->peers = array_buffer(env, argv[9], (size_t)slots * PEER_BYTES, &s->buffers[3]);
  s->rmsg = calloc(slots, sizeof *s->rmsg);
  s->smsg = calloc(slots, sizeof *s->smsg);
  s->riov = calloc(slots, sizeof *s->riov);
  s->siov = calloc(slots, sizeof *s->siov);
  s->addr = calloc(slots, sizeof *s->addr);
  napi_value name;
  uv_loop_t *loop;
  if (!s->in || !s->out || !s->meta || !s->peers || napi_create_reference(env, argv[10], 1, &s->on_batch) != napi_ok ||
      napi_create_string_utf8(env, "gtm:batched-udp", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &s->async) != napi_ok || napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(fd);
    napi_throw_type_error(env, NULL, "open: buffers too small or not ArrayBuffers, or no callback");
    return NULL; // the few bytes of a socket never opened are not worth the cleanup code
  }
  for (int i = 0; i < slots; i++) {
    s->riov[i].iov_base = s->in + (size_t)i * in_size;
    s->riov[i].iov_len = (size_t)in_size;
    s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsg[i].msg_hdr.msg_iovlen = 1;
    s->rmsg[i].msg_hdr.msg_name = &s->addr[i];
    s->smsg[i].msg_hdr.msg_iov = &s->siov[i];
    s->smsg[i].msg_hdr.msg_iovlen = 1;
  }
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);

  int got = 0;
  socklen_t glen = sizeof got;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &glen);
  uint16_t bport = bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port;
  napi_value out, ext, v;
  CHECK(env, napi_create_array_with_length(env, 3, &out));
  CHECK(env, napi_create_external(env, s, NULL, NULL, &ext));
  CHECK(env, napi_set_element(env, out, 0, ext));
  CHECK(env, napi_create_int32(env, ntohs(bport), &v));
  CHECK(env, napi_set_element(env, out, 1, v));
  CHECK(env, napi_create_int32(env, got, &v));
  CHECK(env, napi_set_element(env, out, 2, v));
  return out;
}

static sock_t *unwrap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  void *p = NULL;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, arg, &p) != napi_ok)
    return NULL;
  return p;
}

static void closed(uv_handle_t *handle) {
  sock_t *s = handle->data;
  close(s->fd);
  if (s->lead >= 0) close(s->lead); // the kernel frees the name: a worker standing by takes it
  free(s->rmsg);
  free(s->smsg);
  free(s->riov);
  free(s->siov);
  free(s->addr);
  free(s);
}

// close(socket): stops reading; the memory goes once libuv has let go of the poll handle.
static napi_value js_close(napi_env env, napi_callback_info info) {
  sock_t *s = unwrap(env, info);
  if (!s || s->closing) return NULL;
  s->closing = 1;
  for (int i = 0; i < 4; i++) napi_delete_reference(env, s->buffers[i]);
  napi_delete_reference(env, s->on_batch);
  napi_async_destroy(env, s->async);
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, closed);
  return NULL;
}

// stats(socket) -> [datagrams read, answers sent, answers that failed, waits for room to send,
//                   times reading began after standing by (js_reading)]
static napi_value js_stats(napi_env env, napi_callback_info info) {
  sock_t *s = unwrap(env, info);
  napi_value out, v;
  CHECK(env, napi_create_array_with_length(env, 5, &out));
  for (int i = 0; i < 5; i++) {
    CHECK(env, napi_create_double(env, s && !s->closing ? s->stats[i] : 0, &v));
    CHECK(env, napi_set_element(env, out, (uint32_t)i, v));
  }
  return out;
}

// receiveBuffer(socket, bytes) -> SO_RCVBUF as the kernel then reports it. The server shrinks it
// while the worker is saturated, so a flood cannot build a queue longer than a few ms of work.
static napi_value js_receive_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  void *p = NULL;
  int32_t want = 0;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_external(env, argv[0], &p) != napi_ok ||
      napi_get_value_int32(env, argv[1], &want) != napi_ok || want <= 0) {
    napi_throw_type_error(env, NULL, "receiveBuffer: a socket and a positive size expected");
    return NULL;
  }
  sock_t *s = p;
  int got = 0;
  socklen_t glen = sizeof got;
  if (s->closing) return NULL;
  if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want) < 0) return throw_errno(env, "setsockopt");
  getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &got, &glen);
  CHECK(env, napi_create_int32(env, got, &out));
  return out;
}

// Taking turns on a shared socket (src/dns/udp-turns.ts decides; these only look and act).

// lead(socket) -> true when this copy leads: it holds the name that belongs to the shared socket
// (its inode) in the abstract unix namespace. One process holds a name at a time, and the kernel
// frees it when that process exits, however it exits: no lock file, nothing to clean up.
static napi_value js_lead(napi_env env, napi_callback_info info) {
  sock_t *s = unwrap(env, info);
  napi_value out;
  struct stat st;
  if (s && !s->closing && s->lead < 0 && fstat(s->fd, &st) == 0) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "gtm-udp-lead-%llx-%llx", (unsigned long long)st.st_dev,
                       (unsigned long long)st.st_ino);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) == 0)
      s->lead = fd;
    else if (fd >= 0)
      close(fd);
  }
  CHECK(env, napi_get_boolean(env, s && s->lead >= 0, &out));
  return out;
}

// look(socket) -> [bytes queued, identity of the datagram at the head or -1 when none], without
// reading anything: SO_MEMINFO's receive allocation and a MSG_PEEK of the head (its source, its
// first two bytes, which are the DNS ID, and its length). [-1, -1] when the kernel cannot say
// (before 4.6).
static napi_value js_look(napi_env env, napi_callback_info info) {
  sock_t *s = unwrap(env, info);
  double bytes = -1, head = -1;
  uint32_t meminfo[SK_MEMINFO_VARS];
  socklen_t mlen = sizeof meminfo;
  if (s && !s->closing && getsockopt(s->fd, SOL_SOCKET, SO_MEMINFO, meminfo, &mlen) == 0) {
    bytes = meminfo[SK_MEMINFO_RMEM_ALLOC];
    struct sockaddr_storage from;
    uint8_t id[2] = {0, 0};
    struct iovec iov = {.iov_base = id, .iov_len = sizeof id};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(s->fd, &m, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
    if (n >= 0) {
      uint32_t h = 2166136261u; // FNV-1a over the source, the ID and the length
      const uint8_t *b = (const uint8_t *)&from;
      for (socklen_t i = 0; i < m.msg_namelen && i < sizeof from; i++) h = (h ^ b[i]) * 16777619u;
      h = (h ^ id[0]) * 16777619u;
      h = (h ^ id[1]) * 16777619u;
      h = (h ^ (uint32_t)n) * 16777619u;
      head = h;
    }
  }
  napi_value out, v;
  CHECK(env, napi_create_array_with_length(env, 2, &out));
  CHECK(env, napi_create_double(env, bytes, &v));
  CHECK(env, napi_set_element(env, out, 0, v));
  CHECK(env, napi_create_double(env, head, &v));
  CHECK(env, napi_set_element(env, out, 1, v));
  return out;
}

// reading(socket, on) -> whether the loop now watches the socket. Stopping waits while answers
// are pending (they are sent when the socket has room, which needs the watch).
static napi_value js_reading(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  void *p = NULL;
  bool on = false;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_external(env, argv[0], &p) != napi_ok ||
      napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "reading: a socket and a boolean expected");
    return NULL;
  }
  sock_t *s = p;
  int reading = uv_is_active((uv_handle_t *)&s->poll); // watched to read, or to send what waits
  if (!s->closing && on && !reading) {
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    s->stats[4]++;
  } else if (!s->closing && !on && reading && s->pending_from == s->pending_to) {
    uv_poll_stop(&s->poll); // libuv takes the socket out of its epoll set now, exclusive or not
    s->exclusive = 0;
  }
  CHECK(env, napi_get_boolean(env, uv_is_active((uv_handle_t *)&s->poll), &out));
  return out;
}

// stopIdleClock() -> whether libuv's idle clock was on for this thread's loop and is now off.
// Node turns the clock on for performance.eventLoopUtilization; libuv then polls twice on every
// wake that finds nothing waiting (a timeout of 0 to stamp the start of idleness, then the real
// wait): a system call per query at a moderate load, 0.6 us of 9.3 per query at 20k QPS from one
// client (docs/benchmarks.md).
// libuv has no call to turn it off. Its switch has been the UV_METRICS_IDLE_TIME bit of the first
// word of the loop's private fields (uv-common.h, uv__loop_internal_fields_s.flags) since the
// clock came in (1.39): touched only from 1.39 on and only when that bit is set. JS calls this
// only where the kernel counts the loop's busy time instead (src/dns/overload.ts).
static napi_value js_stop_idle_clock(napi_env env, napi_callback_info info) {
  uv_loop_t *loop = NULL;
  napi_value out;
  (void)info;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  unsigned *flags = loop->internal_fields;
  int was_on = uv_version() >= 0x012700 && flags != NULL && (*flags & UV_METRICS_IDLE_TIME) != 0;
  if (was_on) *flags &= ~(unsigned)UV_METRICS_IDLE_TIME;
  CHECK(env, napi_get_boolean(env, was_on, &out));
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"receiveBuffer", NULL, js_receive_buffer, NULL, NULL, NULL, napi_default, NULL},
      {"lead", NULL, js_lead, NULL, NULL, NULL, napi_default, NULL},
      {"look", NULL, js_look, NULL, NULL, NULL, napi_default, NULL},
      {"reading", NULL, js_reading, NULL, NULL, NULL, napi_default, NULL},
      {"stopIdleClock", NULL, js_stop_idle_clock, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 8, props);
  return exports;
}
