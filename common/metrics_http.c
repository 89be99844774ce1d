// SPDX-License-Identifier: Apache-2.0
/*
 * metrics_http.c — see metrics_http.h. We bind the listening socket ourselves and hand
 * it to libmicrohttpd, so a bad address fails with the kernel's own errno (in use, not
 * available here) and a one-line message, before any thread starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"

#define CONNECTION_LIMIT 32u
#define CONNECTION_TIMEOUT_S 10u

struct metrics_http {
	struct metrics *m;
	struct MHD_Daemon *d;
	int port;
};

int metrics_http__split(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = addr, *h_end;
	char *end;
	long p;

	if (!addr)
		return -EINVAL;
	colon = strrchr(addr, ':');
	if (!colon || colon == addr || !colon[1])
		return -EINVAL;
	h_end = colon;
	if (addr[0] == '[') {
		if (colon[-1] != ']' || colon - addr < 3)
			return -EINVAL;
		h = addr + 1;
		h_end = colon - 1;
	} else if (memchr(addr, ':', (size_t)(colon - addr))) {
		return -EINVAL; /* a bare IPv6 address: needs brackets */
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || p < 0 || p > 65535 || (size_t)(h_end - h) >= hostlen)
		return -EINVAL;
	memcpy(host, h, (size_t)(h_end - h));
	host[h_end - h] = '\0';
	snprintf(port, portlen, "%ld", p);
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, char *body,
			     size_t len, bool must_free)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text), false);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct metrics_http *h = cls;
	char *body = NULL;
	size_t len = 0;
	int err;

	(void)version;
	(void)upload_data;
	if (*upload_data_size) { /* a body we do not want: read past it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are served\n");
	if (strcmp(url, "/") == 0)
		return reply_text(conn, MHD_HTTP_OK, "sluice metrics are at /metrics\n");
	if (strcmp(url, "/metrics") != 0)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found; sluice metrics are at /metrics\n");
	err = metrics__render(h->m, &body, &len);
	if (err) {
		pr_warn("metrics: cannot render a scrape: %s", strerror(-err));
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the metrics; see the daemon's log\n");
	}
	return reply(conn, MHD_HTTP_OK, METRICS_HTTP_CONTENT_TYPE, body, len, true);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pr_debug("metrics endpoint: %s", msg); /* client mistakes: not worth a warning */
}

/* A listening socket bound to addr. fd, or -errno with a message in err. */
static int listen_on(const char *addr, int *family, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[256], port[8];
	int fd = -1, one = 1, rc, ret;

	if (metrics_http__split(addr, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen, "--metrics '%s' is not ADDR:PORT (e.g. 127.0.0.1:9464 or [::1]:9464)", addr);
		return -EINVAL;
	}
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "--metrics %s: cannot resolve '%s': %s", addr, host, gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		snprintf(err, errlen, "--metrics %s: cannot listen: %s%s", addr, strerror(-ret),
			 ret == -EADDRINUSE ? " (another process has this port; pick another)" : "");
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return ret;
	}
	*family = ai->ai_family;
	freeaddrinfo(ai);
	return fd;
}

struct metrics_http *metrics_http__start(struct metrics *m, const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct metrics_http *h;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	int fd, family = AF_INET;

	if (!m || !addr) {
		snprintf(err, errlen, "metrics: nothing to serve");
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	h->m = m;
	fd = listen_on(addr, &family, err, errlen);
	if (fd < 0) {
		free(h);
		errno = -fd;
		return NULL;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
				MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "--metrics %s: cannot start the HTTP server", addr);
		close(fd);
		free(h);
		errno = EIO;
		return NULL;
	}
	return h;
}

int metrics_http__port(const struct metrics_http *h)
{
	return h ? h->port : -EINVAL;
}

void metrics_http__stop(struct metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d); /* closes the listening socket too */
	free(h);
}
