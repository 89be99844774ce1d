// SPDX-License-Identifier: Apache-2.0
/*
 * outbox.c — see outbox.h: a ring of packed messages under a mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "outbox.h"

struct outbox {
	pthread_mutex_t lock;
	struct rpc_buf *ring;
	size_t cap, head, count; /* messages are ring[(head + i) % cap], i < count */
	uint64_t dropped;
};

struct outbox *outbox__new(size_t max)
{
	struct outbox *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->cap = max ? max : 1024;
	o->ring = calloc(o->cap, sizeof(*o->ring));
	if (!o->ring) {
		free(o);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&o->lock, NULL);
	return o;
}

void outbox__free(struct outbox *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->count; i++)
		free(o->ring[(o->head + i) % o->cap].data);
	pthread_mutex_destroy(&o->lock);
	free(o->ring);
	free(o);
}

/* Appends at the tail, dropping the oldest when full. Called with the lock held. */
static void append_locked(struct outbox *o, struct rpc_buf b)
{
	if (o->count == o->cap) {
		free(o->ring[o->head].data);
		o->head = (o->head + 1) % o->cap;
		o->count--;
		o->dropped++;
	}
	o->ring[(o->head + o->count) % o->cap] = b;
	o->count++;
}

int outbox__push(struct outbox *o, const Sluice__V1__AgentMessage *m)
{
	size_t len = sluice__v1__agent_message__get_packed_size(m);
	struct rpc_buf b = { malloc(len ? len : 1), len };

	if (!b.data)
		return -ENOMEM;
	sluice__v1__agent_message__pack(m, b.data);
	pthread_mutex_lock(&o->lock);
	append_locked(o, b);
	pthread_mutex_unlock(&o->lock);
	return 0;
}

size_t outbox__take(struct outbox *o, struct rpc_buf *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&o->lock);
	while (n < max && o->count > 0) {
		out[n++] = o->ring[o->head];
		o->head = (o->head + 1) % o->cap;
		o->count--;
	}
	pthread_mutex_unlock(&o->lock);
	return n;
}

void outbox__unget(struct outbox *o, struct rpc_buf *msgs, size_t n)
{
	pthread_mutex_lock(&o->lock);
	/* Newest of the returned first, each in front of what is there. */
	for (size_t i = n; i-- > 0;) {
		if (o->count == o->cap) {
			free(msgs[i].data); /* the queue is full of newer messages */
			o->dropped++;
			continue;
		}
		o->head = (o->head + o->cap - 1) % o->cap;
		o->ring[o->head] = msgs[i];
		o->count++;
	}
	pthread_mutex_unlock(&o->lock);
}

size_t outbox__queued(struct outbox *o)
{
	size_t n;

	pthread_mutex_lock(&o->lock);
	n = o->count;
	pthread_mutex_unlock(&o->lock);
	return n;
}

uint64_t outbox__dropped(struct outbox *o)
{
	uint64_t n;

	pthread_mutex_lock(&o->lock);
	n = o->dropped;
	pthread_mutex_unlock(&o->lock);
	return n;
}
