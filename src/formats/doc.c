/*-------------------------------------------------------------------------
 *
 * doc.c
 *	  JSON and UBJSON readers into an OgDoc tree (doc.h).
 *
 * Both readers are recursive descent with a depth cap, never read past the
 * end of the buffer, and size every allocation from bytes actually present
 * (a UBJSON count is checked against the bytes left before anything is
 * allocated), so a hostile file costs at most a few times its size.
 * JSON accepts XGBoost's NaN, Infinity and -Infinity tokens.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "doc.h"

typedef struct OgDocReader
{
	const char *model;
	const char *what;
	const unsigned char *p;
	const unsigned char *start;
	const unsigned char *end;
	int			depth;
	const char *format;			/* "JSON" or "UBJSON", for messages */
} OgDocReader;

static void
OgDocFail(OgDocReader *r, const char *problem)
{
	Size		off = r->p - r->start;
	int			line = 1,
				col = 1;
	const unsigned char *q;

	for (q = r->start; q < r->p && q < r->end; q++)
	{
		if (*q == '\n')
		{
			line++;
			col = 1;
		}
		else
			col++;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid %s in %s of model \"%s\"",
					r->format, r->what, r->model),
			 errdetail("%s at byte %zu (line %d, column %d).", problem, off, line, col)));
}

static void
OgDocEnter(OgDocReader *r)
{
	if (++r->depth > OG_DOC_MAX_DEPTH)
		OgDocFail(r, psprintf("Nesting deeper than %d levels", OG_DOC_MAX_DEPTH));
	check_stack_depth();
}

/* Collects values of an array or object while they are parsed. */
typedef struct OgDocList
{
	OgDoc	   *items;
	char	  **keys;
	double	   *numbers;
	int			n;
	int			cap;
	bool		all_numbers;
} OgDocList;

static void
OgDocListAdd(OgDocList *l, const char *key, const OgDoc *v)
{
	if (l->n >= l->cap)
	{
		int			cap = l->cap ? l->cap * 2 : 16;

		if (l->all_numbers)
			l->numbers = l->numbers ? repalloc_huge(l->numbers, sizeof(double) * cap)
				: palloc_extended(sizeof(double) * cap, MCXT_ALLOC_HUGE);
		else
		{
			l->items = l->items ? repalloc_huge(l->items, sizeof(OgDoc) * cap)
				: palloc_extended(sizeof(OgDoc) * cap, MCXT_ALLOC_HUGE);
			if (key)
				l->keys = l->keys ? repalloc_huge(l->keys, sizeof(char *) * cap)
					: palloc_extended(sizeof(char *) * cap, MCXT_ALLOC_HUGE);
		}
		l->cap = cap;
	}
	if (l->all_numbers && v->type != OG_DOC_NUMBER)
	{
		/* the first non-number: turn the numbers so far into items */
		OgDoc	   *items = palloc_extended(sizeof(OgDoc) * l->cap, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		int			i;

		for (i = 0; i < l->n; i++)
		{
			items[i].type = OG_DOC_NUMBER;
			items[i].number = l->numbers[i];
		}
		if (l->numbers)
			pfree(l->numbers);
		l->numbers = NULL;
		l->items = items;
		l->all_numbers = false;
	}
	if (l->all_numbers)
		l->numbers[l->n] = v->number;
	else
	{
		l->items[l->n] = *v;
		if (key)
			l->keys[l->n] = (char *) key;
	}
	l->n++;
}

static void
OgDocListFinish(OgDocList *l, OgDoc *out, bool object)
{
	memset(out, 0, sizeof(*out));
	out->n = l->n;
	if (object)
	{
		out->type = OG_DOC_OBJECT;
		out->items = l->items;
		out->keys = l->keys;
	}
	else if (l->all_numbers && l->n > 0)
	{
		out->type = OG_DOC_NUMBERS;
		out->numbers = l->numbers;
	}
	else
	{
		out->type = OG_DOC_ARRAY;
		out->items = l->items;
	}
}

/* ------------------------------------------------------------------ JSON */

static void OgJsonValue(OgDocReader *r, OgDoc *out);

static void
OgJsonSpace(OgDocReader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static bool
OgJsonWord(OgDocReader *r, const char *word)
{
	size_t		n = strlen(word);

	if ((size_t) (r->end - r->p) >= n && memcmp(r->p, word, n) == 0)
	{
		r->p += n;
		return true;
	}
	return false;
}

static void
OgUtf8Append(StringInfo s, uint32 c)
{
	if (c < 0x80)
		appendStringInfoChar(s, (char) c);
	else if (c < 0x800)
	{
		appendStringInfoChar(s, (char) (0xC0 | (c >> 6)));
		appendStringInfoChar(s, (char) (0x80 | (c & 0x3F)));
	}
	else if (c < 0x10000)
	{
		appendStringInfoChar(s, (char) (0xE0 | (c >> 12)));
		appendStringInfoChar(s, (char) (0x80 | ((c >> 6) & 0x3F)));
		appendStringInfoChar(s, (char) (0x80 | (c & 0x3F)));
	}
	else
	{
		appendStringInfoChar(s, (char) (0xF0 | (c >> 18)));
		appendStringInfoChar(s, (char) (0x80 | ((c >> 12) & 0x3F)));
		appendStringInfoChar(s, (char) (0x80 | ((c >> 6) & 0x3F)));
		appendStringInfoChar(s, (char) (0x80 | (c & 0x3F)));
	}
}

static int
OgHex4(OgDocReader *r)
{
	int			v = 0,
				i;

	if (r->end - r->p < 4)
		OgDocFail(r, "Truncated \\u escape");
	for (i = 0; i < 4; i++)
	{
		int			c = r->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			OgDocFail(r, "Invalid \\u escape");
	}
	r->p += 4;
	return v;
}

static char *
OgJsonString(OgDocReader *r, int *len)
{
	StringInfoData s;

	initStringInfo(&s);
	r->p++;						/* opening quote */
	for (;;)
	{
		unsigned char c;

		if (r->p >= r->end)
			OgDocFail(r, "Unterminated string");
		c = *r->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			OgDocFail(r, "Control character in a string");
		if (c != '\\')
		{
			appendStringInfoChar(&s, (char) c);
			continue;
		}
		if (r->p >= r->end)
			OgDocFail(r, "Unterminated string");
		c = *r->p++;
		switch (c)
		{
			case '"':
			case '\\':
			case '/':
				appendStringInfoChar(&s, (char) c);
				break;
			case 'b':
				appendStringInfoChar(&s, '\b');
				break;
			case 'f':
				appendStringInfoChar(&s, '\f');
				break;
			case 'n':
				appendStringInfoChar(&s, '\n');
				break;
			case 'r':
				appendStringInfoChar(&s, '\r');
				break;
			case 't':
				appendStringInfoChar(&s, '\t');
				break;
			case 'u':
				{
					uint32		cp = OgHex4(r);

					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						uint32		lo;

						if (!OgJsonWord(r, "\\u"))
							OgDocFail(r, "Unpaired surrogate in a \\u escape");
						lo = OgHex4(r);
						if (lo < 0xDC00 || lo > 0xDFFF)
							OgDocFail(r, "Unpaired surrogate in a \\u escape");
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					}
					else if (cp >= 0xDC00 && cp <= 0xDFFF)
						OgDocFail(r, "Unpaired surrogate in a \\u escape");
					if (cp == 0)
						OgDocFail(r, "\\u0000 in a string");
					OgUtf8Append(&s, cp);
				}
				break;
			default:
				r->p--;
				OgDocFail(r, "Invalid escape in a string");
		}
	}
	*len = s.len;
	return s.data;
}

static double
OgJsonNumber(OgDocReader *r)
{
	const unsigned char *q = r->p;
	char		tmp[64];
	char	   *endp;
	double		v;
	size_t		n;

	if (q < r->end && *q == '-')
		q++;
	if (q >= r->end || !(*q >= '0' && *q <= '9'))
		OgDocFail(r, "Invalid number");
	while (q < r->end && *q >= '0' && *q <= '9')
		q++;
	if (q < r->end && *q == '.')
	{
		q++;
		if (q >= r->end || !(*q >= '0' && *q <= '9'))
			OgDocFail(r, "Invalid number");
		while (q < r->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < r->end && (*q == 'e' || *q == 'E'))
	{
		q++;
		if (q < r->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= r->end || !(*q >= '0' && *q <= '9'))
			OgDocFail(r, "Invalid number");
		while (q < r->end && *q >= '0' && *q <= '9')
			q++;
	}
	n = q - r->p;
	if (n >= sizeof(tmp))
		OgDocFail(r, "Number too long");
	memcpy(tmp, r->p, n);
	tmp[n] = '\0';
	v = strtod(tmp, &endp);
	if (endp != tmp + n)
		OgDocFail(r, "Invalid number");
	r->p = q;
	return v;
}

static void
OgJsonContainer(OgDocReader *r, OgDoc *out, bool object)
{
	OgDocList	l;
	char		close = object ? '}' : ']';

	memset(&l, 0, sizeof(l));
	l.all_numbers = !object;
	OgDocEnter(r);
	r->p++;
	OgJsonSpace(r);
	if (r->p < r->end && *r->p == close)
		r->p++;
	else
	{
		for (;;)
		{
			OgDoc		v;
			char	   *key = NULL;

			if ((l.n & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			if (object)
			{
				int			klen;

				OgJsonSpace(r);
				if (r->p >= r->end || *r->p != '"')
					OgDocFail(r, "Expected a string key");
				key = OgJsonString(r, &klen);
				OgJsonSpace(r);
				if (r->p >= r->end || *r->p != ':')
					OgDocFail(r, "Expected ':'");
				r->p++;
			}
			OgJsonValue(r, &v);
			OgDocListAdd(&l, key, &v);
			OgJsonSpace(r);
			if (r->p < r->end && *r->p == ',')
			{
				r->p++;
				continue;
			}
			if (r->p < r->end && *r->p == close)
			{
				r->p++;
				break;
			}
			OgDocFail(r, object ? "Expected ',' or '}'" : "Expected ',' or ']'");
		}
	}
	r->depth--;
	OgDocListFinish(&l, out, object);
}

static void
OgJsonValue(OgDocReader *r, OgDoc *out)
{
	memset(out, 0, sizeof(*out));
	OgJsonSpace(r);
	if (r->p >= r->end)
		OgDocFail(r, "Unexpected end of input");
	switch (*r->p)
	{
		case '{':
			OgJsonContainer(r, out, true);
			return;
		case '[':
			OgJsonContainer(r, out, false);
			return;
		case '"':
			out->type = OG_DOC_STRING;
			out->string = OgJsonString(r, &out->n);
			return;
		default:
			break;
	}
	out->type = OG_DOC_NUMBER;
	if (OgJsonWord(r, "true"))
	{
		out->type = OG_DOC_BOOL;
		out->number = 1;
	}
	else if (OgJsonWord(r, "false"))
		out->type = OG_DOC_BOOL;
	else if (OgJsonWord(r, "null"))
		out->type = OG_DOC_NULL;
	else if (OgJsonWord(r, "NaN"))
		out->number = NAN;
	else if (OgJsonWord(r, "Infinity"))
		out->number = INFINITY;
	else if (OgJsonWord(r, "-Infinity"))
		out->number = -INFINITY;
	else
		out->number = OgJsonNumber(r);
}

static void
OgDocReaderInit(OgDocReader *r, const char *format, const char *model,
				const char *what, const char *buf, Size len)
{
	r->model = model;
	r->what = what;
	r->start = r->p = (const unsigned char *) buf;
	r->end = r->start + len;
	r->depth = 0;
	r->format = format;
}

OgDoc *
OgDocParseJson(const char *model, const char *what, const char *buf, Size len)
{
	OgDocReader r;
	OgDoc	   *doc = palloc(sizeof(OgDoc));

	OgDocReaderInit(&r, "JSON", model, what, buf, len);
	OgJsonValue(&r, doc);
	OgJsonSpace(&r);
	if (r.p != r.end)
		OgDocFail(&r, "Unexpected text after the JSON value");
	return doc;
}

/* --------------------------------------------------------------- UBJSON */

static void OgUbjValue(OgDocReader *r, OgDoc *out, unsigned char marker);

static const unsigned char *
OgUbjTake(OgDocReader *r, Size n)
{
	const unsigned char *q = r->p;

	if ((Size) (r->end - r->p) < n)
		OgDocFail(r, "Unexpected end of input");
	r->p += n;
	return q;
}

static unsigned char
OgUbjByte(OgDocReader *r)
{
	return *OgUbjTake(r, 1);
}

static uint64
OgUbjBE(const unsigned char *q, int n)
{
	uint64		v = 0;
	int			i;

	for (i = 0; i < n; i++)
		v = (v << 8) | q[i];
	return v;
}

/* Size of a fixed-size numeric type, 0 if not numeric. */
static int
OgUbjNumSize(unsigned char t)
{
	switch (t)
	{
		case 'i':
		case 'U':
			return 1;
		case 'I':
			return 2;
		case 'l':
		case 'd':
			return 4;
		case 'L':
		case 'D':
			return 8;
		default:
			return 0;
	}
}

static double
OgUbjNumber(OgDocReader *r, unsigned char t)
{
	const unsigned char *q = OgUbjTake(r, OgUbjNumSize(t));
	uint64		u;

	switch (t)
	{
		case 'i':
			return (double) (int8) q[0];
		case 'U':
			return (double) q[0];
		case 'I':
			return (double) (int16) OgUbjBE(q, 2);
		case 'l':
			return (double) (int32) OgUbjBE(q, 4);
		case 'L':
			return (double) (int64) OgUbjBE(q, 8);
		case 'd':
			{
				uint32		b = (uint32) OgUbjBE(q, 4);
				float		f;

				memcpy(&f, &b, 4);
				return (double) f;
			}
		case 'D':
			{
				double		d;

				u = OgUbjBE(q, 8);
				memcpy(&d, &u, 8);
				return d;
			}
	}
	return 0;
}

/* A length or count: an integer with its own type marker. */
static Size
OgUbjLength(OgDocReader *r)
{
	unsigned char t = OgUbjByte(r);
	double		v;

	if (t != 'i' && t != 'U' && t != 'I' && t != 'l' && t != 'L')
		OgDocFail(r, "Expected an integer length");
	v = OgUbjNumber(r, t);
	if (v < 0 || v > (double) (r->end - r->start))
		OgDocFail(r, "Length out of range");
	return (Size) v;
}

static char *
OgUbjString(OgDocReader *r, int *len)
{
	Size		n = OgUbjLength(r);
	const unsigned char *q = OgUbjTake(r, n);

	if (memchr(q, '\0', n) != NULL)
		OgDocFail(r, "Zero byte in a string");
	*len = (int) n;
	return pnstrdup((const char *) q, n);
}

static void
OgUbjContainer(OgDocReader *r, OgDoc *out, bool object)
{
	OgDocList	l;
	unsigned char type = 0;
	Size		count = 0;
	bool		counted = false;
	Size		i;

	memset(&l, 0, sizeof(l));
	l.all_numbers = !object;
	OgDocEnter(r);
	if (r->p < r->end && *r->p == '$')
	{
		r->p++;
		type = OgUbjByte(r);
		if (r->p >= r->end || *r->p != '#')
			OgDocFail(r, "A typed container needs a count");
	}
	if (r->p < r->end && *r->p == '#')
	{
		r->p++;
		count = OgUbjLength(r);
		counted = true;
	}

	/* typed numeric array: read straight into doubles */
	if (!object && counted && OgUbjNumSize(type) > 0)
	{
		int			size = OgUbjNumSize(type);

		if (count > (Size) (r->end - r->p) / size)
			OgDocFail(r, "Array count larger than the data");
		memset(out, 0, sizeof(*out));
		out->type = OG_DOC_NUMBERS;
		out->n = (int) count;
		out->numbers = palloc_extended(sizeof(double) * Max(count, 1), MCXT_ALLOC_HUGE);
		for (i = 0; i < count; i++)
			out->numbers[i] = OgUbjNumber(r, type);
		if (count == 0)
			out->type = OG_DOC_ARRAY;
		r->depth--;
		return;
	}
	if (counted && count > (Size) (r->end - r->p))
		OgDocFail(r, "Container count larger than the data");

	for (i = 0; !counted || i < count; i++)
	{
		OgDoc		v;
		char	   *key = NULL;
		unsigned char marker;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!counted)
		{
			if (r->p >= r->end)
				OgDocFail(r, "Unterminated container");
			if (*r->p == (object ? '}' : ']'))
			{
				r->p++;
				break;
			}
		}
		if (object)
		{
			int			klen;

			key = OgUbjString(r, &klen);
		}
		marker = type ? type : OgUbjByte(r);
		OgUbjValue(r, &v, marker);
		OgDocListAdd(&l, key, &v);
	}
	r->depth--;
	OgDocListFinish(&l, out, object);
}

static void
OgUbjValue(OgDocReader *r, OgDoc *out, unsigned char marker)
{
	memset(out, 0, sizeof(*out));
	while (marker == 'N')		/* no-op */
		marker = OgUbjByte(r);
	switch (marker)
	{
		case 'Z':
			out->type = OG_DOC_NULL;
			return;
		case 'T':
		case 'F':
			out->type = OG_DOC_BOOL;
			out->number = marker == 'T';
			return;
		case 'S':
			out->type = OG_DOC_STRING;
			out->string = OgUbjString(r, &out->n);
			return;
		case 'C':
			out->type = OG_DOC_STRING;
			out->string = pnstrdup((const char *) OgUbjTake(r, 1), 1);
			out->n = 1;
			return;
		case 'H':
			{
				int			n;
				char	   *s = OgUbjString(r, &n);
				char	   *endp;

				out->type = OG_DOC_NUMBER;
				out->number = strtod(s, &endp);
				if (n == 0 || *endp != '\0')
					OgDocFail(r, "Invalid high-precision number");
				return;
			}
		case '[':
			OgUbjContainer(r, out, false);
			return;
		case '{':
			OgUbjContainer(r, out, true);
			return;
		default:
			if (OgUbjNumSize(marker) > 0)
			{
				out->type = OG_DOC_NUMBER;
				out->number = OgUbjNumber(r, marker);
				return;
			}
			r->p--;
			OgDocFail(r, psprintf("Unknown type marker 0x%02x", marker));
	}
}

OgDoc *
OgDocParseUbjson(const char *model, const char *what, const char *buf, Size len)
{
	OgDocReader r;
	OgDoc	   *doc = palloc(sizeof(OgDoc));

	OgDocReaderInit(&r, "UBJSON", model, what, buf, len);
	OgUbjValue(&r, doc, OgUbjByte(&r));
	if (r.p != r.end)
		OgDocFail(&r, "Unexpected data after the value");
	return doc;
}

const OgDoc *
OgDocGet(const OgDoc *obj, const char *key)
{
	int			i;

	if (obj == NULL || obj->type != OG_DOC_OBJECT)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}
