// SPDX-License-Identifier: Apache-2.0
/*
 * apply_storm.c — a load tool for the fault suite (cases/07-controller-kill-writes.sh):
 * several clients, each on a connection of its own, call ApplyPolicy as fast as the
 * controller answers, every call with a policy no other call has (one rule whose name
 * and port encode a sequence number), and log every write the controller ACKNOWLEDGED as
 * one line "SEQ REVISION HASH" to a file, flushed per line, so a controller killed in the
 * middle leaves an exact list of what it promised to keep.
 *
 *   apply_storm --controller ADDR (--tls-cert F --tls-key F --tls-ca F | --insecure)
 *               --log FILE [--clients N] [--count N] [--first SEQ] [--no-rollout]
 *
 * Calls that fail (the controller is down, or killed under the call) are counted and
 * retried with a new sequence number on a new channel after a short pause; the tool runs until --count
 * writes were acknowledged, or until SIGTERM/SIGINT. It checks that each acknowledged
 * hash is the one of the policy it sent. Prints a summary line and exits 0, or 1 when
 * an acknowledgement did not match what was sent.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/policy.h"
#include "common/rpc.h"
#include "sluice/v1/control.pb-c.h"

#define CALL_MS 10000
#define RETRY_MS 50
#define MAX_CLIENTS 64

struct storm {
	const char *target;
	struct rpc_tls tls;
	bool insecure;
	bool no_rollout;
	unsigned clients;
	uint64_t count;	 /* acknowledged writes to reach */
	_Atomic uint64_t next_seq;
	_Atomic uint64_t acked, failed, mismatched;
	FILE *log;
	pthread_mutex_t log_lock;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* One ApplyPolicy of the policy for seq. 0 when acknowledged (logged), 1 when the
 * answer does not match what was sent, -1 when the call failed. */
static int apply_one(struct storm *s, struct rpc_channel *ch, uint64_t seq)
{
	Sluice__V1__ApplyPolicyRequest req = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ApplyPolicyResponse *resp = NULL;
	Sluice__V1__Policy p = SLUICE__V1__POLICY__INIT;
	Sluice__V1__Rule rule = SLUICE__V1__RULE__INIT, *rules[1] = { &rule };
	Sluice__V1__Match match = SLUICE__V1__MATCH__INIT;
	Sluice__V1__PortRange port = SLUICE__V1__PORT_RANGE__INIT, *ports[1] = { &port };
	char name[48], msg[48], hash[POLICY_HASH_HEX];
	struct rpc_buf out = { 0 };
	struct rpc_status st;
	uint8_t *buf = NULL;
	size_t len;
	int ret = -1;

	snprintf(name, sizeof(name), "storm-%llu", (unsigned long long)seq);
	snprintf(msg, sizeof(msg), "apply_storm %llu", (unsigned long long)seq);
	port.lo = port.hi = (uint32_t)(1 + seq % 65535);
	match.proto = 6;
	match.n_dst_ports = 1;
	match.dst_ports = ports;
	rule.name = name;
	rule.priority = 10;
	rule.action = SLUICE__V1__ACTION__ACTION_DROP;
	rule.match = &match;
	p.n_rules = 1;
	p.rules = rules;
	if (policy__hash(&p, hash))
		return -1;
	req.policy = &p;
	req.message = msg;
	req.no_rollout = s->no_rollout;
	len = sluice__v1__apply_policy_request__get_packed_size(&req);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	sluice__v1__apply_policy_request__pack(&req, buf);
	if (rpc_channel__unary(ch, "/sluice.v1.ControlService/ApplyPolicy", buf, len, CALL_MS, &out, &st) != RPC_OK)
		goto cleanup;
	resp = sluice__v1__apply_policy_response__unpack(NULL, out.len, out.data);
	if (!resp || !resp->revision || strcmp(resp->hash, hash) != 0) {
		fprintf(stderr, "apply_storm: seq %llu: the answer (revision %llu, hash %s) is not what was sent (hash %s)\n",
			(unsigned long long)seq, resp ? (unsigned long long)resp->revision : 0ULL,
			resp ? resp->hash : "none", hash);
		ret = 1;
		goto cleanup;
	}
	pthread_mutex_lock(&s->log_lock);
	fprintf(s->log, "%llu %llu %s\n", (unsigned long long)seq, (unsigned long long)resp->revision, hash);
	fflush(s->log);
	pthread_mutex_unlock(&s->log_lock);
	ret = 0;
cleanup:
	if (resp)
		sluice__v1__apply_policy_response__free_unpacked(resp, NULL);
	free(out.data);
	free(buf);
	return ret;
}

static void *client(void *arg)
{
	struct storm *s = arg;
	struct rpc_channel_opts opts = { .own_connection = true };
	struct rpc_channel *ch;

	ch = rpc_channel__new(s->target, s->insecure ? NULL : &s->tls, &opts);
	if (!ch) {
		fprintf(stderr, "apply_storm: cannot make a channel to %s: %s\n", s->target, strerror(errno));
		stopping = 1;
		return NULL;
	}
	while (!stopping && atomic_load(&s->acked) < s->count) {
		uint64_t seq = atomic_fetch_add(&s->next_seq, 1);
		int rc = apply_one(s, ch, seq);

		if (rc == 0) {
			atomic_fetch_add(&s->acked, 1);
		} else if (rc > 0) {
			atomic_fetch_add(&s->mismatched, 1);
		} else {
			/* A fresh channel: gRPC's reconnect backoff grows to minutes across
			 * outages, and the controller is back within a second or two. */
			atomic_fetch_add(&s->failed, 1);
			sleep_ms(RETRY_MS);
			rpc_channel__free(ch);
			ch = rpc_channel__new(s->target, s->insecure ? NULL : &s->tls, &opts);
			if (!ch) {
				fprintf(stderr, "apply_storm: cannot make a channel to %s: %s\n", s->target, strerror(errno));
				stopping = 1;
				return NULL;
			}
		}
	}
	rpc_channel__free(ch);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: apply_storm --controller ADDR (--tls-cert F --tls-key F --tls-ca F | --insecure)\n"
		   "                   --log FILE [--clients N] [--count N] [--first SEQ] [--no-rollout]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "controller", required_argument, NULL, 'c' }, { "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },	{ "tls-ca", required_argument, NULL, 'A' },
		{ "insecure", no_argument, NULL, 'i' },		{ "log", required_argument, NULL, 'l' },
		{ "clients", required_argument, NULL, 'n' },	{ "count", required_argument, NULL, 'N' },
		{ "first", required_argument, NULL, 'f' },	{ "no-rollout", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },		{ NULL, 0, NULL, 0 },
	};
	struct storm s = { .clients = 4, .count = 1000 };
	pthread_t th[MAX_CLIENTS];
	const char *log_path = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned started = 0;
	int c;

	atomic_init(&s.next_seq, 1);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': s.target = optarg; break;
		case 'C': s.tls.cert_file = optarg; break;
		case 'K': s.tls.key_file = optarg; break;
		case 'A': s.tls.ca_file = optarg; break;
		case 'i': s.insecure = true; break;
		case 'l': log_path = optarg; break;
		case 'n': s.clients = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'N': s.count = strtoull(optarg, NULL, 10); break;
		case 'f': atomic_store(&s.next_seq, strtoull(optarg, NULL, 10)); break;
		case 'r': s.no_rollout = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!s.target || !log_path || s.clients == 0 || s.clients > MAX_CLIENTS ||
	    (!s.insecure && (!s.tls.cert_file || !s.tls.key_file || !s.tls.ca_file))) {
		usage(stderr);
		return 2;
	}
	s.log = fopen(log_path, "a");
	if (!s.log) {
		fprintf(stderr, "apply_storm: cannot open '%s': %s\n", log_path, strerror(errno));
		return 1;
	}
	pthread_mutex_init(&s.log_lock, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rpc__init();
	for (; started < s.clients; started++)
		if (pthread_create(&th[started], NULL, client, &s) != 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	rpc__shutdown();
	fclose(s.log);
	printf("apply_storm: %llu acknowledged, %llu failed calls, %llu mismatched, next seq %llu\n",
	       (unsigned long long)atomic_load(&s.acked), (unsigned long long)atomic_load(&s.failed),
	       (unsigned long long)atomic_load(&s.mismatched), (unsigned long long)atomic_load(&s.next_seq));
	return atomic_load(&s.mismatched) ? 1 : 0;
}
