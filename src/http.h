/*-------------------------------------------------------------------------
 *
 * http.h
 *	  HTTP GET with libcurl inside a backend: interruptible, size-capped.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_HTTP_H
#define OG_HTTP_H

/* Credentials for the MLflow server; never logged or shown. */
typedef struct OgCredentials
{
	char	   *token;			/* Bearer token, or NULL */
	char	   *username;		/* Basic auth, or NULL */
	char	   *password;
} OgCredentials;

typedef enum OgHttpOutcome
{
	OG_HTTP_OK,					/* a response arrived: see status */
	OG_HTTP_CONNECT_FAILED,		/* could not resolve or connect */
	OG_HTTP_TIMEOUT,
	OG_HTTP_TLS_FAILED,
	OG_HTTP_TRUNCATED,			/* body shorter than announced */
	OG_HTTP_TOO_LARGE,			/* body above the cap */
	OG_HTTP_FAILED				/* anything else */
} OgHttpOutcome;

typedef struct OgHttpResponse
{
	OgHttpOutcome outcome;
	long		status;
	char	   *body;			/* palloc'd, NUL-terminated */
	Size		len;
	char	   *content_type;	/* or NULL */
	char		error[256];		/* libcurl's words for a failed transfer */
} OgHttpResponse;

extern int	og_http_timeout_ms;

extern void OgHttpInit(void);
extern void OgHttpGet(const char *url, const OgCredentials *cred,
					  Size max_bytes, OgHttpResponse *resp);
extern void OgHttpPostJson(const char *url, const OgCredentials *cred,
						   const char *json, Size max_bytes,
						   OgHttpResponse *resp);
extern void OgHttpSend(const char *method, const char *url,
					   const OgCredentials *cred, const char *body, Size len,
					   const char *content_type, Size max_bytes,
					   OgHttpResponse *resp);
extern char *OgRedactUrl(const char *url);
extern char *OgUrlEscape(const char *s);
extern bool OgPathHasDotSegment(const char *path);

#endif							/* OG_HTTP_H */
