// SPDX-License-Identifier: Apache-2.0
/*
 * rpc.c — the parts of the gRPC wrapper that server and client share: process-wide
 * setup (with gRPC's own log lines routed into ours), status code names and the one
 * errno-to-status mapping, byte buffers and send queues, channel arguments, TLS
 * credentials from PEM files, and the caller's identity from the mTLS auth context.
 * The server lives in rpc_server.c, the client in rpc_client.c.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "common/log.h"
#include "common/rpc_internal.h"

/*
 * The core's errors are ours to show, but a peer can make one per connection (bytes that
 * are not TLS, a handshake cut off): at most GRPC_LOG_BURST of them per
 * GRPC_LOG_WINDOW_S seconds are logged, and how many were left out is said once the
 * window has passed. Debug lines are not limited (nothing prints them unless asked).
 */
#define GRPC_LOG_BURST 20
#define GRPC_LOG_WINDOW_S 10

static pthread_mutex_t grpc_log_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t grpc_log_window;
static unsigned long grpc_log_used, grpc_log_dropped;

/* Whether an error line may be logged now; *dropped: how many the last window left out. */
static bool grpc_log_admit(unsigned long *dropped)
{
	time_t now = time(NULL);
	bool ok;

	pthread_mutex_lock(&grpc_log_lock);
	*dropped = 0;
	if (now - grpc_log_window >= GRPC_LOG_WINDOW_S) {
		*dropped = grpc_log_dropped;
		grpc_log_window = now;
		grpc_log_used = 0;
		grpc_log_dropped = 0;
	}
	ok = grpc_log_used < GRPC_LOG_BURST;
	if (ok)
		grpc_log_used++;
	else
		grpc_log_dropped++;
	pthread_mutex_unlock(&grpc_log_lock);
	return ok;
}

/* Debian's core is built without absl logging: everything goes through gpr_log. */
static void grpc_log_cb(gpr_log_func_args *args)
{
	unsigned long dropped;

	if (args->severity != GPR_LOG_SEVERITY_ERROR) {
		log__printf(LOG_DEBUG, "grpc: %s", args->message);
		return;
	}
	if (!grpc_log_admit(&dropped))
		return;
	if (dropped)
		log__printf(LOG_WARN, "grpc: %lu more errors in %d s were not logged (at most %d per %d s)", dropped,
			    GRPC_LOG_WINDOW_S, GRPC_LOG_BURST, GRPC_LOG_WINDOW_S);
	log__printf(LOG_WARN, "grpc: %s", args->message);
}

/*
 * Debian's Abseil is built with assertions on, so every absl::Mutex the core takes also
 * records lock order in a global graph for deadlock detection; with thousands of streams
 * that bookkeeping costs more CPU than the writes themselves (measured with
 * tests/bench/run.sh fanout). Release builds of Abseil have it off; turn it off here too
 * (absl::SetMutexDeadlockDetectionMode(kIgnore)), when the library offers the call.
 */
static void quiet_absl_deadlock_detection(void)
{
	void (*set_mode)(int) =
		(void (*)(int))dlsym(RTLD_DEFAULT, "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE");

	if (set_mode)
		set_mode(0); /* OnDeadlockCycle::kIgnore */
}

void rpc__init(void)
{
	gpr_set_log_function(grpc_log_cb);
	quiet_absl_deadlock_detection();
	grpc_init();
}

/* Blocking, so that the core's memory is really gone when this returns (leak checks). */
void rpc__shutdown(void)
{
	grpc_shutdown_blocking();
}

static const char *const code_names[] = {
	[RPC_OK] = "OK",
	[RPC_CANCELLED] = "CANCELLED",
	[RPC_UNKNOWN] = "UNKNOWN",
	[RPC_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[RPC_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[RPC_NOT_FOUND] = "NOT_FOUND",
	[RPC_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[RPC_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[RPC_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[RPC_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[RPC_ABORTED] = "ABORTED",
	[RPC_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[RPC_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[RPC_INTERNAL] = "INTERNAL",
	[RPC_UNAVAILABLE] = "UNAVAILABLE",
	[RPC_DATA_LOSS] = "DATA_LOSS",
	[RPC_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *rpc_code__name(enum rpc_code code)
{
	if ((unsigned)code >= sizeof(code_names) / sizeof(code_names[0]))
		return "UNKNOWN";
	return code_names[code];
}

/* Accepts err with either sign. Unlisted errors are UNKNOWN. */
enum rpc_code rpc_code__from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return RPC_OK;
	case EINVAL:
	case EBADMSG:
	case EPROTO:
	case EDOM:
	case EILSEQ:
		return RPC_INVALID_ARGUMENT;
	case ENOENT:
	case ESRCH:
	case ENODEV:
	case ENXIO:
		return RPC_NOT_FOUND;
	case EEXIST:
		return RPC_ALREADY_EXISTS;
	case EPERM:
	case EACCES:
		return RPC_PERMISSION_DENIED;
	case ENOMEM:
	case ENOSPC:
	case EDQUOT:
	case EMSGSIZE:
	case E2BIG:
	case ENOBUFS:
	case EMFILE:
	case ENFILE:
		return RPC_RESOURCE_EXHAUSTED;
	case ENOTEMPTY:
	case EALREADY:
		return RPC_FAILED_PRECONDITION;
	case ESTALE: /* a test-and-set on stale data: gRPC says ABORTED, read again and retry */
	case EBUSY:
	case EDEADLK:
		return RPC_ABORTED;
	case ERANGE:
	case EOVERFLOW:
		return RPC_OUT_OF_RANGE;
	case ENOSYS:
	case EOPNOTSUPP:
		return RPC_UNIMPLEMENTED;
	case ETIMEDOUT:
	case ETIME:
		return RPC_DEADLINE_EXCEEDED;
	case ECANCELED:
	case EINTR:
		return RPC_CANCELLED;
	case EAGAIN:
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case ENOTCONN:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case EPIPE:
	case ESHUTDOWN:
		return RPC_UNAVAILABLE;
	case EKEYREJECTED:
	case EKEYEXPIRED:
	case ENOKEY:
		return RPC_UNAUTHENTICATED;
	case EIO:
	case EFAULT:
		return RPC_INTERNAL;
	default:
		return RPC_UNKNOWN;
	}
}

/* ---- buffers ------------------------------------------------------------------------ */

grpc_byte_buffer *rpc_bb__new(const uint8_t *msg, size_t len)
{
	grpc_byte_buffer *bb;
	grpc_slice slice;

	slice = grpc_slice_malloc(len);
	if (len)
		memcpy(GRPC_SLICE_START_PTR(slice), msg, len);
	bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice); /* the buffer holds its own reference */
	return bb;
}

struct rpc_msg *rpc_msg__new(const uint8_t *data, size_t len)
{
	struct rpc_msg *m = malloc(sizeof(*m));

	if (!m)
		return NULL;
	m->slice = grpc_slice_malloc(len);
	if (len)
		memcpy(GRPC_SLICE_START_PTR(m->slice), data, len);
	return m;
}

void rpc_msg__free(struct rpc_msg *m)
{
	if (!m)
		return;
	grpc_slice_unref(m->slice);
	free(m);
}

int rpc_sendq__push(struct rpc_sendq *q, const uint8_t *msg, size_t len)
{
	return rpc_sendq__push_bb(q, rpc_bb__new(msg, len));
}

int rpc_sendq__push_bb(struct rpc_sendq *q, grpc_byte_buffer *bb)
{
	struct rpc_sendq_node *n;

	n = malloc(sizeof(*n));
	if (!n) {
		grpc_byte_buffer_destroy(bb);
		return -ENOMEM;
	}
	n->bb = bb;
	n->next = NULL;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->len++;
	return 0;
}

grpc_byte_buffer *rpc_sendq__pop(struct rpc_sendq *q)
{
	struct rpc_sendq_node *n = q->head;
	grpc_byte_buffer *bb;

	if (!n)
		return NULL;
	q->head = n->next;
	if (!q->head)
		q->tail = NULL;
	q->len--;
	bb = n->bb;
	free(n);
	return bb;
}

void rpc_sendq__clear(struct rpc_sendq *q)
{
	grpc_byte_buffer *bb;

	while ((bb = rpc_sendq__pop(q)))
		grpc_byte_buffer_destroy(bb);
}

int rpc_bb__read(grpc_byte_buffer *bb, struct rpc_buf *out)
{
	grpc_byte_buffer_reader reader;
	grpc_slice all;
	size_t len;

	out->data = NULL;
	out->len = 0;
	if (!grpc_byte_buffer_reader_init(&reader, bb))
		return -EBADMSG; /* a compressed message we cannot inflate */
	all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	len = GRPC_SLICE_LENGTH(all);
	out->data = malloc(len ? len : 1);
	if (!out->data) {
		grpc_slice_unref(all);
		return -ENOMEM;
	}
	if (len)
		memcpy(out->data, GRPC_SLICE_START_PTR(all), len);
	out->len = len;
	grpc_slice_unref(all);
	return 0;
}

void rpc_slice__copy(char *dst, size_t dst_len, grpc_slice s)
{
	size_t n = GRPC_SLICE_LENGTH(s);

	if (!dst_len)
		return;
	if (n >= dst_len)
		n = dst_len - 1;
	memcpy(dst, GRPC_SLICE_START_PTR(s), n);
	dst[n] = '\0';
}

gpr_timespec rpc_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return gpr_inf_future(GPR_CLOCK_MONOTONIC);
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

int64_t rpc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- channel arguments ------------------------------------------------------------- */

static grpc_arg *args_slot(struct rpc_args *args)
{
	/* The callers add a fixed, small set; running out is a programming error. */
	if (args->ca.num_args >= sizeof(args->a) / sizeof(args->a[0]))
		abort();
	return &args->a[args->ca.num_args++];
}

void rpc_args__int(struct rpc_args *args, const char *key, int value)
{
	grpc_arg *a = args_slot(args);

	a->type = GRPC_ARG_INTEGER;
	a->key = (char *)key;
	a->value.integer = value;
}

void rpc_args__str(struct rpc_args *args, const char *key, const char *value)
{
	grpc_arg *a = args_slot(args);

	a->type = GRPC_ARG_STRING;
	a->key = (char *)key;
	a->value.string = (char *)value;
}

const grpc_channel_args *rpc_args__get(struct rpc_args *args)
{
	args->ca.args = args->a;
	return &args->ca;
}

int rpc_max_message(size_t max_message)
{
	if (!max_message)
		return RPC_DEFAULT_MAX_MESSAGE;
	return max_message > INT_MAX ? INT_MAX : (int)max_message;
}

/* ---- TLS --------------------------------------------------------------------------- */

/* Reads a whole PEM file into a NUL-terminated heap string. NULL + errno on failure. */
static char *read_pem(const char *what, const char *path)
{
	char *buf = NULL;
	long size;
	FILE *f;
	int err;

	f = fopen(path, "re");
	if (!f) {
		err = errno;
		pr_err("tls: %s '%s': %s", what, path, strerror(err));
		errno = err;
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		err = errno;
		goto cleanup;
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		err = ENOMEM;
		goto cleanup;
	}
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		err = EIO;
		goto cleanup;
	}
	buf[size] = '\0';
	fclose(f);
	return buf;
cleanup:
	pr_err("tls: %s '%s': cannot read: %s", what, path, strerror(err));
	free(buf);
	fclose(f);
	errno = err;
	return NULL;
}

grpc_ssl_server_certificate_config *rpc_tls__server_config(const struct rpc_tls *tls, char *why, size_t why_len)
{
	grpc_ssl_server_certificate_config *cfg = NULL;
	grpc_ssl_pem_key_cert_pair pair;
	char *ca = NULL, *cert = NULL, *key = NULL;
	int err = 0;

	if (!tls || !tls->cert_file || !tls->key_file || !tls->ca_file) {
		snprintf(why, why_len, "the server needs a certificate, its key and a CA");
		errno = EINVAL;
		return NULL;
	}
	/* gRPC would only find a bad file at the first handshake, and say little: check now. */
	err = cert__check_files(tls->cert_file, tls->key_file, tls->ca_file, NULL, why, why_len);
	if (err) {
		errno = -err;
		return NULL;
	}
	ca = read_pem("CA", tls->ca_file);
	cert = ca ? read_pem("certificate", tls->cert_file) : NULL;
	key = cert ? read_pem("key", tls->key_file) : NULL;
	if (!key) {
		err = errno;
		snprintf(why, why_len, "cannot read the TLS files: %s", strerror(err));
		goto cleanup;
	}
	pair.private_key = key;
	pair.cert_chain = cert;
	cfg = grpc_ssl_server_certificate_config_create(ca, &pair, 1); /* copies the PEM */
	if (!cfg) {
		err = ENOMEM;
		snprintf(why, why_len, "out of memory");
	}
cleanup:
	free(ca);
	free(cert);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	errno = err;
	return cfg;
}

grpc_channel_credentials *rpc_tls__channel_creds(const struct rpc_tls *tls)
{
	grpc_channel_credentials *creds = NULL;
	grpc_ssl_pem_key_cert_pair pair;
	char *ca = NULL, *cert = NULL, *key = NULL;
	int err = 0;

	if (!tls)
		return grpc_insecure_credentials_create();
	if (!tls->cert_file != !tls->key_file) {
		pr_err("tls: a client certificate needs its key and the other way round");
		errno = EINVAL;
		return NULL;
	}
	if (tls->ca_file && !(ca = read_pem("CA", tls->ca_file))) {
		err = errno;
		goto cleanup;
	}
	if (tls->cert_file) {
		cert = read_pem("certificate", tls->cert_file);
		key = cert ? read_pem("key", tls->key_file) : NULL;
		if (!key) {
			err = errno;
			goto cleanup;
		}
	}
	pair.private_key = key;
	pair.cert_chain = cert;
	/* NULL CA: the system roots. No pair: server-authenticated TLS only. */
	creds = grpc_ssl_credentials_create(ca, key ? &pair : NULL, NULL, NULL);
	if (!creds) {
		pr_err("tls: cannot build client credentials");
		err = EINVAL;
	}
cleanup:
	free(ca);
	free(cert);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	errno = err;
	return creds;
}

/* ---- peer identity ----------------------------------------------------------------- */

static const grpc_auth_property *auth_prop(const grpc_auth_context *ac, const char *name)
{
	grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ac, name);

	return grpc_auth_property_iterator_next(&it);
}

/*
 * The subject O of the peer's leaf certificate. gRPC only offers it inside the RFC 2253
 * "x509_subject" string, with its escaping; reading the certificate itself is exact.
 */
static void subject_org(const grpc_auth_property *pem, char *dst, size_t dst_len)
{
	unsigned char *utf8 = NULL;
	X509_NAME_ENTRY *entry;
	X509_NAME *name;
	X509 *x = NULL;
	BIO *bio;
	int idx, n;

	if (pem->value_length > INT_MAX)
		return;
	bio = BIO_new_mem_buf(pem->value, (int)pem->value_length);
	if (!bio)
		return;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!x)
		goto cleanup;
	name = X509_get_subject_name(x);
	idx = X509_NAME_get_index_by_NID(name, NID_organizationName, -1);
	if (idx < 0)
		goto cleanup;
	entry = X509_NAME_get_entry(name, idx);
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
	if (n < 0)
		goto cleanup;
	snprintf(dst, dst_len, "%.*s", n, (const char *)utf8);
cleanup:
	OPENSSL_free(utf8);
	X509_free(x);
	BIO_free(bio);
}

void rpc_peer__fill(grpc_call *call, struct rpc_peer *peer)
{
	const grpc_auth_property *p;
	grpc_auth_context *ac;
	char *addr;

	memset(peer, 0, sizeof(*peer));
	addr = grpc_call_get_peer(call);
	if (addr) {
		snprintf(peer->address, sizeof(peer->address), "%s", addr);
		gpr_free(addr);
	}
	ac = grpc_call_auth_context(call);
	if (!ac)
		return;
	if (!grpc_auth_context_peer_is_authenticated(ac))
		goto cleanup;
	peer->authenticated = true;
	p = auth_prop(ac, GRPC_X509_CN_PROPERTY_NAME);
	if (p && p->value)
		snprintf(peer->identity, sizeof(peer->identity), "%.*s", (int)p->value_length, p->value);
	p = auth_prop(ac, GRPC_X509_PEM_CERT_PROPERTY_NAME);
	if (p && p->value)
		subject_org(p, peer->group, sizeof(peer->group));
cleanup:
	grpc_auth_context_release(ac);
}
