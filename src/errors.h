/*-------------------------------------------------------------------------
 *
 * errors.h
 *	  Helpers every error report uses: the SQLSTATE of a failed file
 *	  operation, and how much of a caller's text a message repeats.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_ERRORS_H
#define OG_ERRORS_H

/* The most bytes of a caller's text (a name, a reference, a path) an error repeats. */
#define OG_ECHO_MAX_BYTES	256

extern int	OgFileErrcode(int err);
extern int	OgErrcodeForFile(int err);
extern const char *OgEchoCut(const char *s, int max, int encoding);
extern const char *OgEcho(const char *s);

#endif							/* OG_ERRORS_H */
