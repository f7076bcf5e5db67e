/*-------------------------------------------------------------------------
 *
 * http.c
 *	  HTTP GET with libcurl inside a backend.
 *
 * The transfer runs on libcurl's multi interface in short steps so that
 * the backend stays responsive:
 *
 *	  - Cancel and statement_timeout: CHECK_FOR_INTERRUPTS() runs between
 *		steps (at most 100 ms apart) inside PG_TRY, and PG_FINALLY frees every
 *		libcurl object; the progress callback only tells libcurl to stop.  No
 *		PostgreSQL ERROR is ever raised inside a callback, and callbacks
 *		allocate with malloc, never palloc.
 *	  - Signals: CURLOPT_NOSIGNAL, and every call that may start libcurl's
 *		resolver thread (curl_multi_perform) runs with all signals blocked, so
 *		the thread inherits a full mask and never runs PostgreSQL's signal
 *		handlers.  Signals stay deliverable while we wait in curl_multi_poll.
 *	  - Size: the write callback refuses data beyond the cap, whether or not
 *		the server announced a length.
 *	  - Protocols: http and https only; redirects keep the scheme.
 *
 * Outcomes are returned, not raised: the caller knows the model, the ref and
 * the server, and words the error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <curl/curl.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"

#include "errors.h"
#include "http.h"

int			og_http_timeout_ms = 30000;
static char *og_tls_ca_file = NULL;
static bool og_tls_insecure = false;

typedef struct OgHttpBuffer
{
	char	   *data;			/* malloc'd */
	size_t		len;
	size_t		cap;
	size_t		max;
	bool		too_large;
	bool		out_of_memory;
} OgHttpBuffer;

void
OgHttpInit(void)
{
	DefineCustomIntVariable("og_model.http_timeout_ms",
							"Time limit of one HTTP request to MLflow, to connect and in total.",
							NULL,
							&og_http_timeout_ms,
							30000, 100, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomStringVariable("og_model.tls_ca_file",
							   "File of CA certificates that verify an https MLflow server.",
							   "Empty: the system's CA certificates.",
							   &og_tls_ca_file,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("og_model.tls_insecure",
							 "Skip verifying the https MLflow server's certificate and name (unsafe).",
							 NULL,
							 &og_tls_insecure,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(WARNING,
				(errmsg("og_model: could not initialize libcurl")));
}

static size_t
OgHttpWrite(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	OgHttpBuffer *b = (OgHttpBuffer *) userdata;
	size_t		n = size * nmemb;

	if (n > b->max - b->len || b->len > b->max)
	{
		b->too_large = true;
		return 0;				/* makes libcurl fail with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 16384;
		char	   *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		p = realloc(b->data, cap);
		if (p == NULL)
		{
			b->out_of_memory = true;
			return 0;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	return n;
}

/*
 * Stop a transfer early when a cancel or termination is pending; the error
 * itself is raised by CHECK_FOR_INTERRUPTS() once libcurl has returned.
 */
static int
OgHttpProgress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			   curl_off_t ultotal, curl_off_t ulnow)
{
	/* a cancel, a termination, or the og_model worker asked to stop */
	return (QueryCancelPending || ProcDiePending || ShutdownRequestPending) ? 1 : 0;
}

static OgHttpOutcome
OgHttpClassify(CURLcode rc, const OgHttpBuffer *b)
{
	switch (rc)
	{
		case CURLE_OK:
			return OG_HTTP_OK;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
			return OG_HTTP_CONNECT_FAILED;
		case CURLE_OPERATION_TIMEDOUT:
			return OG_HTTP_TIMEOUT;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_CACERT_BADFILE:
			return OG_HTTP_TLS_FAILED;
		case CURLE_PARTIAL_FILE:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
			return OG_HTTP_TRUNCATED;
		case CURLE_FILESIZE_EXCEEDED:
			return OG_HTTP_TOO_LARGE;
		case CURLE_WRITE_ERROR:
			return b->too_large ? OG_HTTP_TOO_LARGE : OG_HTTP_FAILED;
		default:
			return OG_HTTP_FAILED;
	}
}

/* libcurl state of one request, freed in PG_FINALLY */
typedef struct OgHttpTransfer
{
	CURL	   *easy;
	CURLM	   *multi;
	struct curl_slist *headers;
	char	   *auth_header;
	char	   *content_type;
	OgHttpBuffer buf;
	char		errbuf[CURL_ERROR_SIZE];
} OgHttpTransfer;

static void
OgHttpTransferFree(OgHttpTransfer *t)
{
	if (t->multi && t->easy)
		curl_multi_remove_handle(t->multi, t->easy);
	if (t->easy)
		curl_easy_cleanup(t->easy);
	if (t->multi)
		curl_multi_cleanup(t->multi);
	curl_slist_free_all(t->headers);
	if (t->auth_header)
	{
		explicit_bzero(t->auth_header, strlen(t->auth_header));
		free(t->auth_header);
	}
	free(t->content_type);
	free(t->buf.data);
	memset(t, 0, sizeof(*t));
}

static bool
OgHttpSetup(OgHttpTransfer *t, const char *url, const OgCredentials *cred)
{
	const char *protocols = strncmp(url, "https:", 6) == 0 ? "https" : "http";
	CURL	   *easy = t->easy;

	if (cred && cred->token)
	{
		size_t		n = strlen(cred->token) + 32;

		t->auth_header = malloc(n);
		if (t->auth_header == NULL)
			return false;
		snprintf(t->auth_header, n, "Authorization: Bearer %s", cred->token);
		t->headers = curl_slist_append(NULL, t->auth_header);
		if (t->headers == NULL ||
			curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers) != CURLE_OK)
			return false;
	}
	if (cred && cred->username)
	{
		if (curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC) != CURLE_OK ||
			curl_easy_setopt(easy, CURLOPT_USERNAME, cred->username) != CURLE_OK ||
			curl_easy_setopt(easy, CURLOPT_PASSWORD,
							 cred->password ? cred->password : "") != CURLE_OK)
			return false;
	}
	if (og_tls_ca_file && og_tls_ca_file[0] &&
		curl_easy_setopt(easy, CURLOPT_CAINFO, og_tls_ca_file) != CURLE_OK)
		return false;
	if (og_tls_insecure &&
		(curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
		 curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK))
		return false;

	return curl_easy_setopt(easy, CURLOPT_URL, url) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, protocols) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) og_http_timeout_ms) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) og_http_timeout_ms) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OgHttpWrite) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t->buf) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, OgHttpProgress) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_USERAGENT, "og_model/0.1") == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) t->buf.max) == CURLE_OK &&
		curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
		curl_multi_add_handle(t->multi, easy) == CURLM_OK;
}

/*
 * Make the request a POST (or the method given) of a body of len bytes
 * (copied by libcurl).
 */
static bool
OgHttpSetBody(OgHttpTransfer *t, const char *method, const char *body,
			  Size len, const char *content_type)
{
	char	   *header = psprintf("Content-Type: %s", content_type);
	struct curl_slist *h = curl_slist_append(t->headers, header);

	pfree(header);
	if (h == NULL)
		return false;
	t->headers = h;
	return curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers) == CURLE_OK &&
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len) == CURLE_OK &&
		curl_easy_setopt(t->easy, CURLOPT_COPYPOSTFIELDS, body) == CURLE_OK &&
		(strcmp(method, "POST") == 0 ||
		 curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK) &&
		/* a redirect must not turn the request into a GET or resend it elsewhere */
		curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
}

/*
 * Run the transfer to its end.  A pending cancel or termination raises its
 * error from CHECK_FOR_INTERRUPTS() between steps; the caller's PG_FINALLY
 * frees libcurl's state.
 */
static CURLcode
OgHttpRun(OgHttpTransfer *t, CURLMcode *mcp)
{
	sigset_t	all,
				saved;
	int			running = 1;
	CURLMcode	mc;
	CURLMsg    *msg;
	int			left;
	CURLcode	rc = CURLE_GOT_NOTHING;

	sigfillset(&all);
	for (;;)
	{
		/* a resolver thread started here inherits the full mask */
		pthread_sigmask(SIG_BLOCK, &all, &saved);
		mc = curl_multi_perform(t->multi, &running);
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
		CHECK_FOR_INTERRUPTS();
		if (mc != CURLM_OK || running == 0)
			break;
		mc = curl_multi_poll(t->multi, NULL, 0, 100, NULL);
		CHECK_FOR_INTERRUPTS();
		if (mc != CURLM_OK)
			break;
	}
	*mcp = mc;
	while ((msg = curl_multi_info_read(t->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == t->easy)
			rc = msg->data.result;
	return rc;
}

/*
 * GET url with at most max_bytes of body.  Transport problems come back in
 * resp->outcome; a cancel raises its error once libcurl's state is freed.
 */
void
OgHttpGet(const char *url, const OgCredentials *cred, Size max_bytes,
		  OgHttpResponse *resp)
{
	OgHttpSend("GET", url, cred, NULL, 0, NULL, max_bytes, resp);
}

/* POST a JSON body, as OgHttpGet. */
void
OgHttpPostJson(const char *url, const OgCredentials *cred, const char *json,
			   Size max_bytes, OgHttpResponse *resp)
{
	OgHttpSend("POST", url, cred, json, strlen(json), "application/json",
			   max_bytes, resp);
}

/*
 * A request of any method: with a body of len bytes and its content type,
 * or without one (body NULL: a GET).  As OgHttpGet otherwise.
 */
void
OgHttpSend(const char *method, const char *url, const OgCredentials *cred,
		   const char *body, Size len, const char *content_type,
		   Size max_bytes, OgHttpResponse *resp)
{
	OgHttpTransfer *volatile t = palloc0(sizeof(OgHttpTransfer));

	memset(resp, 0, sizeof(*resp));
	t->buf.max = max_bytes;

	PG_TRY();
	{
		CURLcode	rc;
		CURLMcode	mc = CURLM_OK;
		char	   *ctype = NULL;

		t->easy = curl_easy_init();
		t->multi = curl_multi_init();
		if (t->easy == NULL || t->multi == NULL || !OgHttpSetup(t, url, cred) ||
			(body != NULL && !OgHttpSetBody(t, method, body, len, content_type)))
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not set up a libcurl request.")));

		rc = OgHttpRun(t, &mc);
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
		if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
			resp->content_type = pstrdup(ctype);

		if (mc != CURLM_OK)
		{
			resp->outcome = OG_HTTP_FAILED;
			strlcpy(resp->error, curl_multi_strerror(mc), sizeof(resp->error));
		}
		else
		{
			resp->outcome = OgHttpClassify(rc, &t->buf);
			if (rc != CURLE_OK)
				strlcpy(resp->error, t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc),
						sizeof(resp->error));
		}
		if (t->buf.out_of_memory)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not buffer an HTTP response of %zu bytes.", t->buf.len)));

		resp->body = palloc_extended(t->buf.len + 1, MCXT_ALLOC_HUGE);
		if (t->buf.len)
			memcpy(resp->body, t->buf.data, t->buf.len);
		resp->body[t->buf.len] = '\0';
		resp->len = t->buf.len;
	}
	PG_FINALLY();
	{
		OgHttpTransferFree(t);
		pfree(t);
	}
	PG_END_TRY();
}

/* scheme://host[:port]/path of a URL: no user info, no query, no fragment. */
char *
OgRedactUrl(const char *url)
{
	const char *scheme_end = strstr(url, "://");
	const char *host;
	const char *at;
	const char *path;
	StringInfoData s;

	initStringInfo(&s);
	if (scheme_end == NULL)
	{
		appendBinaryStringInfo(&s, url, strcspn(url, "?#"));
		return s.data;
	}
	host = scheme_end + 3;
	path = host + strcspn(host, "/?#");
	at = memchr(host, '@', path - host);
	appendBinaryStringInfo(&s, url, host - url);
	if (at)
		host = at + 1;
	appendBinaryStringInfo(&s, host, path - host);
	appendBinaryStringInfo(&s, path, strcspn(path, "?#"));
	return (char *) OgEcho(s.data);
}

/*
 * Does the path have a "." or ".." segment, also written with %2E escapes?
 * Such a URL names another resource than it reads as (libcurl and servers
 * collapse dot segments: runs:/id/../../x leaves the run's artifacts), so
 * every path that a URL is built from is refused when it has one.
 */
bool
OgPathHasDotSegment(const char *path)
{
	const char *p = path;

	for (;;)
	{
		size_t		n = strcspn(p, "/");
		size_t		i = 0;
		int			dots = 0;

		while (i < n)
		{
			if (p[i] == '.')
				i++;
			else if (i + 3 <= n && p[i] == '%' && p[i + 1] == '2' &&
					 (p[i + 2] == 'e' || p[i + 2] == 'E'))
				i += 3;
			else
				break;
			dots++;
		}
		if (n > 0 && i == n && dots <= 2)
			return true;
		if (p[n] == '\0')
			return false;
		p += n + 1;
	}
}

/* Percent-encode a query or path component. */
char *
OgUrlEscape(const char *s)
{
	StringInfoData out;
	const unsigned char *p;

	initStringInfo(&out);
	for (p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			appendStringInfoChar(&out, (char) *p);
		else
			appendStringInfo(&out, "%%%02X", *p);
	}
	return out.data;
}
