/*-------------------------------------------------------------------------
 *
 * errors.c
 *	  Helpers every error report uses.
 *
 * OgFileErrcode: core's errcode_for_file_access() has no SQLSTATE for many
 * errno values (ENAMETOOLONG, ELOOP, ENXIO, EOVERFLOW...) and answers XX000
 * for them, which says "bug" where the caller gave a path that cannot name a
 * file.  Ours maps every errno: a path that cannot name a file is 22023, the
 * errnos core knows keep core's SQLSTATE, any other one is an I/O error
 * (58030).  The errno is passed in, taken right after the failing call.
 *
 * OgEcho: messages repeat what the caller gave (a model name, a reference,
 * a path, an alias) so that they can be recognised, but a megabyte of it
 * helps nobody and floods the log; at most OG_ECHO_MAX_BYTES are repeated
 * (a profile's values: fewer), cut at a character boundary, with a marker
 * that says so.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>

#include "mb/pg_wchar.h"

#include "errors.h"

int
OgFileErrcode(int err)
{
	switch (err)
	{
		case ENAMETOOLONG:
		case ELOOP:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case EPERM:
		case EACCES:
#ifdef EROFS
		case EROFS:
#endif
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case ENOENT:
			return ERRCODE_UNDEFINED_FILE;
		case EEXIST:
			return ERRCODE_DUPLICATE_FILE;
		case ENOTDIR:
		case EISDIR:
		case ENOTEMPTY:
			return ERRCODE_WRONG_OBJECT_TYPE;
		case ENOSPC:
			return ERRCODE_DISK_FULL;
		case ENOMEM:
			return ERRCODE_OUT_OF_MEMORY;
		case ENFILE:
		case EMFILE:
			return ERRCODE_INSUFFICIENT_RESOURCES;
		default:
			return ERRCODE_IO_ERROR;
	}
}

/* errcode() of OgFileErrcode(err), for use inside ereport(). */
int
OgErrcodeForFile(int err)
{
	return errcode(OgFileErrcode(err));
}

/*
 * s as a message repeats it: whole when it has at most max bytes, else its
 * first max bytes (whole characters of the encoding) and "...(N bytes, cut)".
 */
const char *
OgEchoCut(const char *s, int max, int encoding)
{
	size_t		len;
	int			keep;

	if (s == NULL)
		return "";
	len = strlen(s);
	if (len <= (size_t) max)
		return s;
	keep = pg_encoding_mbcliplen(encoding, s, max, max);
	return psprintf("%.*s...(%zu bytes, cut)", keep, s, len);
}

/* A caller's text (in the database encoding) as a message repeats it. */
const char *
OgEcho(const char *s)
{
	return OgEchoCut(s, OG_ECHO_MAX_BYTES, GetDatabaseEncoding());
}
