// SPDX-License-Identifier: Apache-2.0
/*
 * admin.c — see admin.h. The thread polls the listening socket and a self-pipe; the
 * pipe wakes it at once for admin__stop(). Clients get short socket timeouts, so a
 * stuck client cannot hold the thread for long.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "common/log.h"

#define REQUEST_MAX 256
#define CLIENT_TIMEOUT_MS 1000

struct admin {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct session *session;
	int listen_fd;
	int wake[2];      /* self-pipe: a byte on wake[1] stops the thread */
	pthread_t thread;
};

/* ---- JSON rendering ---------------------------------------------------------------- */

json_t *admin__status_json(const Sluice__V1__Status *st, const struct session_info *info)
{
	json_t *rules = json_array(), *ifaces = json_array(), *drops = json_object();

	if (!rules || !ifaces || !drops)
		goto fail;
	for (size_t i = 0; i < st->n_rules; i++) {
		const Sluice__V1__RuleCounters *r = st->rules[i];

		if (json_array_append_new(rules, json_pack("{s:s, s:I, s:I}", "name", r->name, "packets",
							   (json_int_t)r->packets, "bytes", (json_int_t)r->bytes)))
			goto fail;
	}
	for (size_t i = 0; i < st->n_interfaces; i++) {
		const Sluice__V1__InterfaceState *it = st->interfaces[i];

		if (json_array_append_new(ifaces, json_pack("{s:s, s:s, s:I, s:I, s:b}", "name", it->name, "xdp_mode",
							    it->xdp_mode, "link_id", (json_int_t)it->link_id,
							    "prog_id", (json_int_t)it->prog_id, "attached",
							    (int)it->attached)))
			goto fail;
	}
	for (size_t i = 0; i < st->n_drop_reasons; i++) {
		if (json_object_set_new(drops, st->drop_reasons[i]->key, json_integer((json_int_t)st->drop_reasons[i]->value)))
			goto fail;
	}
	/* "o" steals the containers, on failure too. */
	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o}", "node_id",
			 info->node_id, "controller", info->controller, "connected", (int)info->connected,
			 "connected_changed", (json_int_t)info->connected_since, "applied_revision",
			 (json_int_t)st->applied_revision, "applied_hash", st->applied_hash, "last_error",
			 st->last_error, "unix_time", (json_int_t)st->unix_time, "rules_used",
			 (json_int_t)st->rules_used, "rule_capacity", (json_int_t)st->rule_capacity, "interfaces",
			 ifaces, "rules", rules, "drop_reasons", drops);

fail:
	json_decref(rules);
	json_decref(ifaces);
	json_decref(drops);
	return NULL;
}

/* ---- serving ----------------------------------------------------------------------- */

static int render_status(const Sluice__V1__Status *st, const struct session_info *info, void *arg)
{
	char **out = arg;
	json_t *j = admin__status_json(st, info);

	if (!j)
		return -ENOMEM;
	*out = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	return *out ? 0 : -ENOMEM;
}

static char *error_json(const char *msg)
{
	json_t *j = json_pack("{s:s}", "error", msg);
	char *out;

	out = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	return out;
}

/* Reads one request line; returns its length without the line end, or -1. */
static int read_request(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	return len > 0 ? (int)len : -1;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the client went away or stalled: nothing to do */
		buf += n;
		len -= (size_t)n;
	}
}

static void serve_client(struct admin *a, int fd)
{
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_MS / 1000, .tv_usec = (CLIENT_TIMEOUT_MS % 1000) * 1000 };
	char req[REQUEST_MAX], msg[REQUEST_MAX + 64];
	const char *start;
	char *out = NULL;
	int err;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_request(fd, req, sizeof(req)) < 0)
		return;
	start = req + strspn(req, " \t");
	if (strcmp(start, "status") == 0) {
		err = session__with_status(a->session, render_status, &out);
		if (err) {
			snprintf(msg, sizeof(msg), "status unavailable: %s", strerror(-err));
			out = error_json(msg);
		}
	} else {
		snprintf(msg, sizeof(msg), "unknown request '%s'; the one request is: status", start);
		out = error_json(msg);
	}
	if (out) {
		write_all(fd, out, strlen(out));
		write_all(fd, "\n", 1);
	}
	free(out);
}

static void *admin_thread(void *arg)
{
	struct admin *a = arg;
	struct pollfd pfd[2] = {
		{ .fd = a->listen_fd, .events = POLLIN },
		{ .fd = a->wake[0], .events = POLLIN },
	};

	for (;;) {
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("admin socket %s: poll: %s; admin requests are no longer served", a->path,
			       strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* ECONNABORTED and friends: the next client is fine */
		serve_client(a, fd);
		close(fd);
	}
	return NULL;
}

/* A socket file at path: stale (nobody answers) is removed, a live one is refused. */
static int clear_stale(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		err = -EADDRINUSE;
	else if (unlink(path) < 0 && errno != ENOENT)
		err = -errno;
	close(fd);
	return err;
}

struct admin *admin__start(const char *path, struct session *s)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct admin *a = NULL;
	bool bound = false;
	int err;

	if (!path || !s || strlen(path) >= sizeof(sun.sun_path)) {
		err = -EINVAL;
		goto fail;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		err = -ENOMEM;
		goto fail;
	}
	a->listen_fd = -1;
	a->wake[0] = a->wake[1] = -1;
	a->session = s;
	memcpy(a->path, path, strlen(path) + 1);
	memcpy(sun.sun_path, path, strlen(path) + 1);

	err = clear_stale(path);
	if (err)
		goto fail;
	a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->listen_fd < 0 || pipe2(a->wake, O_CLOEXEC) < 0) {
		err = -errno;
		goto fail;
	}
	if (bind(a->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		goto fail;
	}
	bound = true;
	/* Counters and errors are for root's eyes; the state dir is 0700 anyway. */
	if (chmod(path, 0600) < 0 || listen(a->listen_fd, 16) < 0) {
		err = -errno;
		goto fail;
	}
	err = -pthread_create(&a->thread, NULL, admin_thread, a);
	if (err)
		goto fail;
	return a;

fail:
	if (a) {
		if (bound)
			unlink(path);
		if (a->listen_fd >= 0)
			close(a->listen_fd);
		if (a->wake[0] >= 0) {
			close(a->wake[0]);
			close(a->wake[1]);
		}
		free(a);
	}
	errno = -err;
	return NULL;
}

void admin__stop(struct admin *a)
{
	if (!a)
		return;
	if (write(a->wake[1], "x", 1) != 1)
		pr_warn("admin socket %s: cannot wake its thread: %s", a->path, strerror(errno));
	pthread_join(a->thread, NULL);
	close(a->listen_fd);
	close(a->wake[0]);
	close(a->wake[1]);
	unlink(a->path);
	free(a);
}
