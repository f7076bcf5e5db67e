/*-------------------------------------------------------------------------
 *
 * blob.c
 *	  Building the flat model blob described in blob.h.
 *
 * The builder appends 8-byte aligned sections to a StringInfo in the
 * caller's memory context; offsets stay valid while the buffer grows, so
 * parsers keep offsets, never pointers, into a blob under construction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "blob.h"

static void
OgBlobAlign(OgBlobBuilder *b)
{
	while (b->buf.len % MAXIMUM_ALIGNOF != 0)
		appendStringInfoCharMacro(&b->buf, '\0');
}

static void
OgBlobCheckSize(OgBlobBuilder *b, Size extra)
{
	if ((Size) b->buf.len + extra + MAXIMUM_ALIGNOF > OG_MAX_BLOB_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("compiled model \"%s\" would exceed %zu bytes",
						b->model, (Size) OG_MAX_BLOB_BYTES)));
}

void
OgBlobBegin(OgBlobBuilder *b, const char *model)
{
	OgBlobHeader head;

	b->model = model;
	initStringInfo(&b->buf);
	memset(&head, 0, sizeof(head));
	head.magic = OG_BLOB_MAGIC;
	head.layout = OG_BLOB_LAYOUT;
	appendBinaryStringInfo(&b->buf, (const char *) &head, sizeof(head));
	OgBlobAlign(b);
}

/* The header; only valid until the next append. */
OgBlobHeader *
OgBlobHead(OgBlobBuilder *b)
{
	return (OgBlobHeader *) b->buf.data;
}

OgOffset
OgBlobAppend(OgBlobBuilder *b, const void *data, Size len)
{
	OgOffset	off;

	OgBlobCheckSize(b, len);
	OgBlobAlign(b);
	off = (OgOffset) b->buf.len;
	if (len > 0)
	{
		if (data)
			appendBinaryStringInfo(&b->buf, data, (int) len);
		else
		{
			enlargeStringInfo(&b->buf, (int) len);
			memset(b->buf.data + b->buf.len, 0, len);
			b->buf.len += (int) len;
			b->buf.data[b->buf.len] = '\0';
		}
	}
	return off;
}

OgOffset
OgBlobAppendString(OgBlobBuilder *b, const char *s)
{
	if (s == NULL)
		return 0;
	return OgBlobAppend(b, s, strlen(s) + 1);
}

/* Seal the blob; the result is the builder's buffer. */
OgBlobHeader *
OgBlobFinish(OgBlobBuilder *b, Size *size)
{
	OgBlobHeader *head;

	OgBlobAlign(b);
	head = OgBlobHead(b);
	head->total_size = (uint32) b->buf.len;
	*size = (Size) b->buf.len;
	return head;
}

const char *
OgBlobFeatureName(const OgBlobHeader *m, int i)
{
	const OgOffset *names;

	if (m->feature_names == 0 || i < 0 || (uint32) i >= m->n_features)
		return NULL;
	names = (const OgOffset *) OgBlobAt(m, m->feature_names);
	return OgBlobString(m, names[i]);
}
