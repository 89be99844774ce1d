// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_status.c — `sluicectl --agent unix:PATH status`: asks an agent on this node
 * directly, through its admin socket (agent/admin.h: one line "status" in, one JSON
 * document out), so a node can be inspected while the controller is unreachable.
 * -o json|yaml prints the agent's document as it is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "cli/table.h"

#define REPLY_MAX (16u << 20)

/* Sends "status" and reads the whole answer into a malloc'd string. 0 or -errno. */
static int ask(const char *path, int timeout_ms, char **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	size_t len = 0, cap = 4096;
	char *buf = NULL;
	ssize_t n;
	int fd = -1, err = 0;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || write(fd, "status\n", 7) != 7) {
		err = -errno;
		goto cleanup;
	}
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			char *grown = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;

			if (!grown) {
				err = -EMSGSIZE;
				goto cleanup;
			}
			buf = grown;
			cap *= 2;
		}
	}
	if (n < 0) {
		err = errno == EAGAIN ? -ETIMEDOUT : -errno;
		goto cleanup;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return err;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && s[0] ? s : "-";
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void print_text(const json_t *j, FILE *out)
{
	char hash[40], when[40], a[32], b[32];
	const json_t *v;
	struct cli_table *t;
	const char *key;
	size_t i;

	cli_fmt__short_hash(json_string_value(json_object_get(j, "applied_hash")), hash, sizeof(hash));
	cli_fmt__since(num(j, "connected_changed"), (int64_t)time(NULL), when, sizeof(when));
	fprintf(out, "Node:              %s\n", str(j, "node_id"));
	fprintf(out, "Controller:        %s (%s for %s)\n", str(j, "controller"),
		json_is_true(json_object_get(j, "connected")) ? "connected" : "NOT connected", when);
	fprintf(out, "Applied revision:  %lld (hash %s)\n", (long long)num(j, "applied_revision"), hash);
	fprintf(out, "Rules used:        %lld of %lld\n", (long long)num(j, "rules_used"),
		(long long)num(j, "rule_capacity"));
	fprintf(out, "Last error:        %s\n", str(j, "last_error"));
	if (json_array_size(json_object_get(j, "interfaces"))) {
		static const char *const hdr[] = { "INTERFACE", "XDP-MODE", "ATTACHED", "LINK", "PROG" };

		fputc('\n', out);
		t = cli_table__new(5, hdr);
		json_array_foreach(json_object_get(j, "interfaces"), i, v) {
			const char *row[5] = { str(v, "name"), str(v, "xdp_mode"),
					       json_is_true(json_object_get(v, "attached")) ? "yes" : "no", a, b };

			snprintf(a, sizeof(a), "%lld", (long long)num(v, "link_id"));
			snprintf(b, sizeof(b), "%lld", (long long)num(v, "prog_id"));
			cli_table__add(t, row);
		}
		cli_table__print(t, out, NULL);
		cli_table__free(t);
	}
	if (json_array_size(json_object_get(j, "rules"))) {
		static const char *const hdr[] = { "RULE", "PACKETS", "BYTES" };

		fputc('\n', out);
		t = cli_table__new(3, hdr);
		json_array_foreach(json_object_get(j, "rules"), i, v) {
			const char *row[3] = { str(v, "name"), a, b };

			snprintf(a, sizeof(a), "%lld", (long long)num(v, "packets"));
			snprintf(b, sizeof(b), "%lld", (long long)num(v, "bytes"));
			cli_table__add(t, row);
		}
		cli_table__print(t, out, NULL);
		cli_table__free(t);
	}
	if (json_object_size(json_object_get(j, "drop_reasons"))) {
		static const char *const hdr[] = { "COUNTER", "PACKETS" };

		fputc('\n', out);
		t = cli_table__new(2, hdr);
		json_object_foreach((json_t *)json_object_get(j, "drop_reasons"), key, v) {
			const char *row[2] = { key, a };

			snprintf(a, sizeof(a), "%lld", (long long)json_integer_value(v));
			cli_table__add(t, row);
		}
		cli_table__print(t, out, NULL);
		cli_table__free(t);
	}
}

int cli_cmd__status(const struct cli_opts *o, FILE *out, FILE *err)
{
	json_error_t jerr;
	char *text = NULL;
	json_t *j = NULL;
	int rc;

	rc = ask(o->agent, o->timeout_ms, &text);
	if (rc) {
		cli__error(err,
			   "status: cannot ask the agent at unix:%s: %s; check that sluice-agent runs on this node and that its --admin-socket is this path (you may need root)",
			   o->agent, strerror(-rc));
		return CLI_EXIT_FAIL;
	}
	j = json_loads(text, 0, &jerr);
	free(text);
	if (!json_is_object(j)) {
		cli__error(err, "status: the agent at unix:%s answered something that is not a JSON object (%s)", o->agent,
			   jerr.text);
		json_decref(j);
		return CLI_EXIT_FAIL;
	}
	if (json_object_get(j, "error")) {
		cli__error(err, "status: the agent at unix:%s refused: %s", o->agent, str(j, "error"));
		json_decref(j);
		return CLI_EXIT_FAIL;
	}
	if (cli_render__structured(o)) {
		cli_render__data(o, j, out);
		return CLI_EXIT_OK;
	}
	print_text(j, out);
	json_decref(j);
	return CLI_EXIT_OK;
}
