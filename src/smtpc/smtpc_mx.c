/*
 * smtpc_mx - MX ordering and the c-ares resolver on libevent.
 *
 * c-ares tells us through the socket-state callback which descriptors it
 * wants watched; each gets a libevent event that calls ares_process_fd().
 * A short timer runs while lookups are pending so that c-ares can retry
 * and time out. Lookups use DNS only (no /etc/hosts, no search list), so
 * a test's own DNS server decides everything.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "common/str.h"
#include "common/xalloc.h"
#include "smtpc/smtpc_mx.h"

#define DNS_TICK_MS	100
#define DNS_FDS_MAX	64

unsigned
smtpc_mx_random(unsigned n)
{
	unsigned v;

	if (n <= 1)
		return 0;
	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (unsigned)random();
	return v % n;
}

static int
by_pref(const void *a, const void *b)
{
	const struct smtpc_mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

void
smtpc_mx_order(struct smtpc_mx *mx, size_t n, unsigned (*rnd)(unsigned n))
{
	size_t i = 0;

	qsort(mx, n, sizeof(*mx), by_pref);
	while (i < n) {
		size_t j = i + 1;
		while (j < n && mx[j].pref == mx[i].pref)
			j++;
		/* Fisher-Yates over [i, j) */
		for (size_t k = j - 1; k > i; k--) {
			size_t r = i + rnd((unsigned)(k - i + 1));
			struct smtpc_mx t = mx[k];
			mx[k] = mx[r];
			mx[r] = t;
		}
		i = j;
	}
}

int
smtpc_mx_is_null(const struct smtpc_mx *mx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mx[i].host[0] == '\0' || strcmp(mx[i].host, ".") == 0)
			return 1;
	return 0;
}

/* Host names equal but for case and a trailing dot. */
static int
same_host(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

size_t
smtpc_mx_cut_self(const struct smtpc_mx *mx, size_t n, const char *self)
{
	size_t cut;

	if (self == NULL || self[0] == '\0')
		return n;
	for (size_t i = 0; i < n; i++) {
		if (!same_host(mx[i].host, self))
			continue;
		for (cut = 0; cut < n && mx[cut].pref < mx[i].pref; cut++)
			;
		return cut;
	}
	return n;
}

int
smtpc_addr_is_self(const struct sockaddr_storage *a, const struct sockaddr_storage *self,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a->ss_family != self[i].ss_family)
			continue;
		if (a->ss_family == AF_INET) {
			const struct sockaddr_in *x = (const struct sockaddr_in *)a;
			const struct sockaddr_in *y = (const struct sockaddr_in *)&self[i];
			if (x->sin_port == y->sin_port &&
			    x->sin_addr.s_addr == y->sin_addr.s_addr)
				return 1;
		} else if (a->ss_family == AF_INET6) {
			const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
			const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&self[i];
			if (x->sin6_port == y->sin6_port &&
			    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0)
				return 1;
		}
	}
	return 0;
}

/* --- resolver --- */

struct dns_fd {
	ares_socket_t	 fd;
	struct event	*ev;
};

struct smtpc_dns {
	struct event_base	*base;
	ares_channel		 ch;
	struct dns_fd		 fds[DNS_FDS_MAX];
	size_t			 nfds;
	struct event		*tick;
	int			 pending;
	int			 freeing;
};

struct dns_query {
	struct smtpc_dns	*dns;
	smtpc_mx_cb		 mx_cb;
	smtpc_addr_cb		 addr_cb;
	void			*arg;
	int			 port;
};

static void
on_fd(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_dns *dns = arg;

	ares_process_fd(dns->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_dns *dns = arg;

	ares_process_fd(dns->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

static void
sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct smtpc_dns *dns = data;
	size_t i;

	for (i = 0; i < dns->nfds; i++)
		if (dns->fds[i].fd == fd)
			break;
	if (i < dns->nfds) {
		event_free(dns->fds[i].ev);
		dns->fds[i] = dns->fds[--dns->nfds];
	}
	if (!readable && !writable)
		return;
	if (dns->nfds == DNS_FDS_MAX)
		return;	/* c-ares times the query out through the tick */
	dns->fds[dns->nfds].fd = fd;
	dns->fds[dns->nfds].ev = event_new(dns->base, fd, EV_PERSIST |
	    (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0), on_fd, dns);
	event_add(dns->fds[dns->nfds].ev, NULL);
	dns->nfds++;
}

static void
query_begin(struct smtpc_dns *dns)
{
	struct timeval tv = { 0, DNS_TICK_MS * 1000 };

	if (dns->pending++ == 0)
		evtimer_add(dns->tick, &tv);
}

static void
query_end(struct smtpc_dns *dns)
{
	if (--dns->pending == 0)
		evtimer_del(dns->tick);
}

/* Servers "a:p b, c" in the "a:p,b,c" form c-ares takes. */
static int
set_servers(struct smtpc_dns *dns, const char *servers, char *why, size_t whylen)
{
	char *copy = xstrdup(servers), *tok[16], csv[1024] = "";
	size_t n = str_split_list(copy, tok, 16);
	int rc;

	size_t len = 0;

	for (size_t i = 0; i < n && len < sizeof(csv); i++) {
		int w = snprintf(csv + len, sizeof(csv) - len, "%s%s", i > 0 ? "," : "",
		    tok[i]);
		if (w < 0 || (size_t)w >= sizeof(csv) - len) {
			free(copy);
			snprintf(why, whylen, "[dns] servers: list too long");
			return -1;
		}
		len += (size_t)w;
	}
	free(copy);
	if (n == 0)
		return 0;
	rc = ares_set_servers_ports_csv(dns->ch, csv);
	if (rc != ARES_SUCCESS) {
		snprintf(why, whylen, "[dns] servers '%s': %s", servers, ares_strerror(rc));
		return -1;
	}
	return 0;
}

struct smtpc_dns *
smtpc_dns_new(struct event_base *base, const char *servers, char *why, size_t whylen)
{
	struct smtpc_dns *dns = xcalloc(1, sizeof(*dns));
	struct ares_options opts;
	static char lookups[] = "b";
	static int lib_ready;
	int rc;

	if (!lib_ready) {
		if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
			snprintf(why, whylen, "c-ares: %s", ares_strerror(rc));
			free(dns);
			return NULL;
		}
		lib_ready = 1;
	}
	dns->base = base;
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = sock_state;
	opts.sock_state_cb_data = dns;
	opts.lookups = lookups;
	opts.timeout = 2000;
	opts.tries = 2;
	opts.flags = ARES_FLAG_NOSEARCH;
	opts.ndomains = 0;
	opts.domains = NULL;
	rc = ares_init_options(&dns->ch, &opts, ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_DOMAINS);
	if (rc != ARES_SUCCESS) {
		snprintf(why, whylen, "c-ares: %s", ares_strerror(rc));
		free(dns);
		return NULL;
	}
	if (servers != NULL && servers[0] != '\0' &&
	    set_servers(dns, servers, why, whylen) == -1) {
		ares_destroy(dns->ch);
		free(dns);
		return NULL;
	}
	dns->tick = event_new(base, -1, EV_PERSIST, on_tick, dns);
	return dns;
}

void
smtpc_dns_free(struct smtpc_dns **dnsp)
{
	struct smtpc_dns *dns = *dnsp;

	if (dns == NULL)
		return;
	dns->freeing = 1;
	ares_destroy(dns->ch);
	for (size_t i = 0; i < dns->nfds; i++)
		event_free(dns->fds[i].ev);
	event_free(dns->tick);
	free(dns);
	*dnsp = NULL;
}

static enum smtpc_dns_status
map_status(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return SMTPC_DNS_OK;
	case ARES_ENODATA:
		return SMTPC_DNS_NODATA;
	case ARES_ENOTFOUND:
		return SMTPC_DNS_NXDOMAIN;
	default:
		return SMTPC_DNS_TEMP;
	}
}

static void
on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct smtpc_mx mx[SMTPC_MX_MAX];
	struct ares_mx_reply *reply = NULL;
	size_t n = 0;

	if (status == ARES_EDESTRUCTION || q->dns->freeing) {
		/* the owner cancelled its job: let it free what it holds */
		q->mx_cb(q->arg, SMTPC_DNS_TEMP, NULL, 0, "resolver shut down");
		free(q);
		return;
	}
	query_end(q->dns);
	if (status == ARES_SUCCESS) {
		status = ares_parse_mx_reply(abuf, alen, &reply);
		for (struct ares_mx_reply *r = reply; r != NULL && n < SMTPC_MX_MAX; r = r->next) {
			str_copy(mx[n].host, r->host, sizeof(mx[n].host));
			mx[n].pref = r->priority;
			n++;
		}
		if (reply != NULL)
			ares_free_data(reply);
		if (status == ARES_SUCCESS && n == 0)
			status = ARES_ENODATA;
	}
	if (status == ARES_SUCCESS)
		smtpc_mx_order(mx, n, smtpc_mx_random);
	q->mx_cb(q->arg, map_status(status), mx, status == ARES_SUCCESS ? n : 0,
	    ares_strerror(status));
	free(q);
}

void
smtpc_dns_mx(struct smtpc_dns *dns, const char *domain, smtpc_mx_cb cb, void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->dns = dns;
	q->mx_cb = cb;
	q->arg = arg;
	query_begin(dns);
	ares_query(dns->ch, domain, ns_c_in, ns_t_mx, on_mx, q);
}

static void
on_addr(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct dns_query *q = arg;
	struct sockaddr_storage addrs[SMTPC_ADDR_MAX];
	size_t n = 0;

	if (status == ARES_EDESTRUCTION || q->dns->freeing) {
		if (res != NULL)
			ares_freeaddrinfo(res);
		q->addr_cb(q->arg, SMTPC_DNS_TEMP, NULL, 0, "resolver shut down");
		free(q);
		return;
	}
	query_end(q->dns);
	if (status == ARES_SUCCESS && res != NULL) {
		for (struct ares_addrinfo_node *a = res->nodes; a != NULL && n < SMTPC_ADDR_MAX;
		    a = a->ai_next) {
			if (a->ai_family == AF_INET && a->ai_addrlen >= sizeof(struct sockaddr_in)) {
				struct sockaddr_in *sin = (struct sockaddr_in *)&addrs[n];
				memset(&addrs[n], 0, sizeof(addrs[n]));
				memcpy(sin, a->ai_addr, sizeof(*sin));
				sin->sin_port = htons((uint16_t)q->port);
				n++;
			} else if (a->ai_family == AF_INET6 &&
			    a->ai_addrlen >= sizeof(struct sockaddr_in6)) {
				struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addrs[n];
				memset(&addrs[n], 0, sizeof(addrs[n]));
				memcpy(sin6, a->ai_addr, sizeof(*sin6));
				sin6->sin6_port = htons((uint16_t)q->port);
				n++;
			}
		}
	}
	if (res != NULL)
		ares_freeaddrinfo(res);
	if (status == ARES_SUCCESS && n == 0)
		status = ARES_ENODATA;
	q->addr_cb(q->arg, map_status(status), addrs, n, ares_strerror(status));
	free(q);
}

void
smtpc_dns_addr(struct smtpc_dns *dns, const char *host, int port, smtpc_addr_cb cb,
    void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	struct ares_addrinfo_hints hints;

	q->dns = dns;
	q->addr_cb = cb;
	q->arg = arg;
	q->port = port;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = ARES_AI_NOSORT;
	query_begin(dns);
	ares_getaddrinfo(dns->ch, host, NULL, &hints, on_addr, q);
}
