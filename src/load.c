/*-------------------------------------------------------------------------
 *
 * load.c
 *	  og_load_model(), og_unload_model() and the og_model.models view.
 *
 * A load resolves the reference to an MLflow model directory, reads its
 * MLmodel file, picks the flavor, compiles the model file into a blob in a
 * private memory context and publishes it (store.c).  Everything before
 * the publish can fail without touching the version being served.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "formats/formats.h"
#include "errors.h"
#include "http.h"
#include "json.h"
#include "load.h"
#include "mlmodel.h"
#include "reference.h"
#include "source.h"
#include "stats.h"
#include "store.h"

PG_FUNCTION_INFO_V1(og_load_model);
PG_FUNCTION_INFO_V1(og_unload_model);
PG_FUNCTION_INFO_V1(og_models);
PG_FUNCTION_INFO_V1(og_memory);

#define OG_MODELS_COLS	18
/* Longest reference og_load_model() takes (a file:// path is shorter still). */
#define OG_MAX_REF_BYTES	4096

static int	og_max_artifact_bytes = 64 * 1024 * 1024;

void
OgLoadInit(void)
{
	OgHttpInit();
	OgRegistryInit();
	DefineCustomIntVariable("og_model.max_artifact_bytes",
							"Largest model file og_load_model() reads.",
							NULL,
							&og_max_artifact_bytes,
							64 * 1024 * 1024, 1024, INT_MAX,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
}

/* Letters, digits, "_", "." and "-", 1 to 63 bytes. */
void
OgCheckModelName(const char *name)
{
	size_t		len = strlen(name);
	const char *p;
	bool		ok = len > 0 && len <= OG_MAX_NAME_LEN;

	for (p = name; ok && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			ok = false;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid model name \"%s\"", OgEcho(name)),
				 errdetail("Model names are 1 to %d bytes of letters, digits, \"_\", \".\" and \"-\".",
						   OG_MAX_NAME_LEN)));
}

/*
 * Read a whole regular file of at most max bytes.  The result is
 * NUL-terminated; *len excludes the terminator.
 */
static char *
OgReadFile(const char *model, const char *path, Size max,
		   const char *limit_name, Size *len)
{
	struct stat st;
	int			fd;
	char	   *buf;
	Size		got = 0;

	/* O_NONBLOCK: a FIFO put in place of the file must not hang the backend */
	fd = OpenTransientFile(path, O_RDONLY | O_NONBLOCK | PG_BINARY);
	if (fd < 0 || fstat(fd, &st) != 0)
	{
		int			err = errno;

		ereport(ERROR,
				(OgErrcodeForFile(err),
				 errmsg("could not read \"%s\" for model \"%s\": %m",
						OgEcho(path), model)));
	}
	if (!S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("could not read \"%s\" for model \"%s\": not a regular file",
						OgEcho(path), model)));
	if ((Size) st.st_size > max)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("file \"%s\" of model \"%s\" is too large", OgEcho(path), model),
				 errdetail("The file has %lld bytes; the limit is %zu bytes.",
						   (long long) st.st_size, max),
				 limit_name ? errhint("Raise %s to load larger models.", limit_name) : 0));

	buf = palloc_extended((Size) st.st_size + 1, MCXT_ALLOC_HUGE);
	for (;;)
	{
		ssize_t		r;

		CHECK_FOR_INTERRUPTS();
		if (got == (Size) st.st_size)
		{
			char		extra;

			/* the file grew since fstat(): refuse rather than truncate */
			r = read(fd, &extra, 1);
			if (r > 0)
				got++;
			break;
		}
		r = read(fd, buf + got, (Size) st.st_size - got);
		if (r < 0)
		{
			int			err = errno;

			if (err == EINTR)
				continue;
			ereport(ERROR,
					(OgErrcodeForFile(err),
					 errmsg("could not read \"%s\" for model \"%s\": %m",
							OgEcho(path), model)));
		}
		if (r == 0)
			break;
		got += r;
	}
	CloseTransientFile(fd);
	if (got != (Size) st.st_size)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("file \"%s\" of model \"%s\" changed while it was read",
						OgEcho(path), model)));
	buf[got] = '\0';
	*len = got;
	return buf;
}

static char *
OgSha256Hex(const char *buf, Size len)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			i;

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) buf, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	return hex;
}

static int
OgHexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX escapes of a file URI path. */
static char *
OgUriDecode(const char *model, const char *ref, const char *s)
{
	char	   *out = palloc(strlen(s) + 1);
	char	   *o = out;

	while (*s)
	{
		if (*s == '%')
		{
			int			hi,
						lo;

			hi = s[1] ? OgHexValue(s[1]) : -1;
			lo = (hi >= 0 && s[2]) ? OgHexValue(s[2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid reference \"%s\" for model \"%s\"", OgEcho(ref), model),
						 errdetail("The URI has an invalid percent escape.")));
			*o++ = (char) (hi * 16 + lo);
			s += 3;
		}
		else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/*
 * A file named by a flavor must stay inside the model directory: a relative
 * path without "." or ".." segments (escaped or not: the name also goes
 * into URLs), of a length a path can have.
 */
static void
OgCheckRelativePath(const char *model, const char *file)
{
	if (file[0] == '\0' || file[0] == '/' || OgPathHasDotSegment(file))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("MLmodel file of model \"%s\" names file \"%s\" outside the model directory",
						model, OgEcho(file)),
				 errdetail("A flavor's file is a relative path inside the model directory, without \".\" or \"..\" segments.")));
	if (strlen(file) >= MAXPGPATH)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("MLmodel file of model \"%s\" names file \"%s\" whose name is too long",
						model, OgEcho(file)),
				 errdetail("File names are shorter than %d bytes.", MAXPGPATH)));
}

static const char *
OgFlavorNames(const OgMLmodel *mlm)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i + 1 < mlm->flavors->n; i += 2)
		appendStringInfo(&s, "%s%s", i ? ", " : "", mlm->flavors->items[i]->scalar);
	return s.data;
}

/*
 * Choose the flavor to read.  Only og_model is compiled in this version;
 * the tree flavors are recognised, pickles are explained.
 */
static const char *
OgChooseFlavor(const OgMLmodel *mlm, const OgYamlNode **conf)
{
	const OgYamlNode *c;

	if ((c = OgYamlGet(mlm->flavors, "og_model")) != NULL)
	{
		*conf = c;
		return "og_model";
	}
	if ((c = OgYamlGet(mlm->flavors, "xgboost")) != NULL)
	{
		*conf = c;
		return "xgboost";
	}
	if ((c = OgYamlGet(mlm->flavors, "lightgbm")) != NULL)
	{
		const char *data = OgYamlScalar(OgYamlGet(c, "data"));
		const char *cls = OgYamlScalar(OgYamlGet(c, "model_class"));

		if ((data && strlen(data) > 4 && strcmp(data + strlen(data) - 4, ".pkl") == 0) ||
			(cls && strncmp(cls, "lightgbm.sklearn.", 17) == 0))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot load model \"%s\": its LightGBM model is a Python pickle",
							mlm->model),
					 errdetail("mlflow.lightgbm.log_model saves scikit-learn API models (%s) with pickle, which only Python can read.",
							   cls ? cls : "LGBMModel"),
					 errhint("Log the underlying booster instead: mlflow.lightgbm.log_model(model.booster_, ...).")));
		*conf = c;
		return "lightgbm";
	}
	if (OgYamlGet(mlm->flavors, "sklearn") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot load model \"%s\": scikit-learn models are Python pickles",
						mlm->model),
				 errdetail("The sklearn flavor stores the model with pickle or cloudpickle, which only Python can read."),
				 errhint("Log XGBoost or LightGBM boosters with mlflow.xgboost or mlflow.lightgbm, or train a linear model with og_train().")));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot load model \"%s\": none of its flavors can be scored by og_model",
					mlm->model),
			 errdetail("The MLmodel file lists: %s.", OgFlavorNames(mlm)),
			 errhint("og_model reads the og_model, xgboost and lightgbm flavors.")));
	return NULL;				/* keep compiler quiet */
}

/* OgSourceRead for file:// sources: priv is the directory. */
static char *
OgFileRead(OgSource *src, const char *relpath, Size max,
		   const char *limit_name, Size *len)
{
	return OgReadFile(src->model, psprintf("%s/%s", (const char *) src->priv, relpath),
					  max, limit_name, len);
}

/*
 * Compile the model the source holds into a blob.
 */
static OgBlobHeader *
OgCompile(OgSource *src, Size *size)
{
	OgMLmodel	mlm;
	OgBlobBuilder b;
	const OgYamlNode *conf = NULL;
	const char *flavor;
	const char *data;
	char	   *buf;
	Size		len;
	OgOffset	offs[9];
	OgBlobHeader *head;
	char	   *sha;

	buf = src->read(src, "MLmodel", OG_YAML_MAX_BYTES, NULL, &len);
	OgMLmodelParse(src->model, "MLmodel", buf, len, &mlm);

	flavor = OgChooseFlavor(&mlm, &conf);
	data = OgYamlScalar(OgYamlGet(conf, "data"));
	if (data == NULL)
		data = strcmp(flavor, "xgboost") == 0 ? "model.xgb" :
			strcmp(flavor, "lightgbm") == 0 ? "model.lgb" : "model.json";
	OgCheckRelativePath(src->model, data);

	buf = src->read(src, data, (Size) og_max_artifact_bytes,
					"og_model.max_artifact_bytes", &len);
	sha = OgSha256Hex(buf, len);

	OgBlobBegin(&b, src->model);
	if (strcmp(flavor, "xgboost") == 0)
		OgXgboostCompile(&mlm, data, buf, len, &b);
	else if (strcmp(flavor, "lightgbm") == 0)
		OgLightgbmCompile(&mlm, data, buf, len, &b);
	else
		OgLinearCompile(&mlm, data, buf, len, &b);

	offs[0] = OgBlobAppendString(&b, src->model);
	offs[1] = OgBlobAppendString(&b, src->ref);
	offs[2] = OgBlobAppendString(&b, flavor);
	offs[3] = OgBlobHead(&b)->format ? 0 :
		OgBlobAppendString(&b, strcmp(flavor, "lightgbm") == 0 ? "text" : "json");
	offs[4] = OgBlobAppendString(&b, sha);
	offs[5] = OgBlobAppendString(&b, src->uri);
	offs[6] = OgBlobAppendString(&b, src->run_id ? src->run_id : mlm.run_id);
	offs[7] = OgBlobAppendString(&b, src->version);
	head = OgBlobHead(&b);
	head->name = offs[0];
	head->ref = offs[1];
	head->flavor = offs[2];
	if (offs[3])
		head->format = offs[3];
	head->sha256 = offs[4];
	head->source = offs[5];
	head->run_id = offs[6];
	head->version = offs[7];
	head->artifact_bytes = (int64) len;
	return OgBlobFinish(&b, size);
}

/* Where the reference's files are: a local directory or an MLflow server. */
static void
OgResolveRef(OgSource *src)
{
	const char *model = src->model;
	const char *ref = src->ref;
	char	   *dir;
	size_t		n;

	if (strncmp(ref, "file:", 5) != 0)
	{
		OgRegistryResolve(src);
		return;
	}
	if (strncmp(ref, "file://", 7) != 0 || ref[7] != '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid reference \"%s\" for model \"%s\"", OgEcho(ref), model),
				 errdetail("A file URI names an absolute path on the database server: file:///path/to/model.")));
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to load model \"%s\" from a server file", model),
				 errdetail("Only roles with privileges of the \"pg_read_server_files\" role may load file:// references.")));
	dir = OgUriDecode(model, ref, ref + 7);
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	if (n >= MAXPGPATH - 64)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid reference \"%s\" for model \"%s\"", OgEcho(ref), model),
				 errdetail("The path has %zu bytes; a model directory's path has fewer than %d.",
						   n, MAXPGPATH - 64)));
	if (OgPathHasDotSegment(dir))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid reference \"%s\" for model \"%s\"", OgEcho(ref), model),
				 errdetail("The path has a \".\" or \"..\" segment."),
				 errhint("Name the model directory by its path without \".\" and \"..\".")));
	src->priv = dir;
	src->read = OgFileRead;
	src->uri = psprintf("file://%s", dir);
}

/*
 * The rows of og_model.models have this library's columns: the SQL objects
 * of an older version of the extension (before ALTER EXTENSION ... UPDATE)
 * have fewer.
 */
static void
OgCheckModelsColumns(TupleDesc tupdesc)
{
	if (tupdesc->natts != OG_MODELS_COLS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("og_model.models has %d columns, this version of og_model fills %d",
						tupdesc->natts, OG_MODELS_COLS),
				 errhint("Run ALTER EXTENSION og_model UPDATE in this database.")));
}

static void
OgModelRow(const OgBlobHeader *m, Datum *values, bool *nulls)
{
	static const char *const tasks[] = {"", "regression", "binary", "multiclass"};
	const char *s;
	int			i = 0;

#define OG_TEXT(off) \
	do { \
		s = OgBlobString(m, (off)); \
		nulls[i] = (s == NULL); \
		values[i++] = s ? CStringGetTextDatum(s) : (Datum) 0; \
	} while (0)

	OG_TEXT(m->name);
	OG_TEXT(m->version);
	OG_TEXT(m->ref);
	OG_TEXT(m->flavor);
	OG_TEXT(m->format);
	nulls[i] = false;
	values[i++] = CStringGetTextDatum(m->task < lengthof(tasks) ? tasks[m->task] : "");
	OG_TEXT(m->objective);
	nulls[i] = false;
	values[i++] = Int32GetDatum((int32) m->n_features);
	nulls[i] = false;
	values[i++] = Int32GetDatum((int32) m->n_outputs);
	nulls[i] = (m->kind != OG_KIND_TREES);
	values[i++] = Int32GetDatum((int32) m->n_trees);
	nulls[i] = (m->kind != OG_KIND_TREES);
	values[i++] = Int32GetDatum((int32) m->n_rounds);
	nulls[i] = false;
	values[i++] = Int64GetDatum((int64) m->total_size);
	nulls[i] = false;
	values[i++] = Int64GetDatum(m->artifact_bytes);
	OG_TEXT(m->sha256);
	OG_TEXT(m->source);
	OG_TEXT(m->run_id);
	nulls[i] = false;
	values[i++] = TimestampTzGetDatum(m->loaded_at);
	nulls[i] = false;
	values[i++] = Float8GetDatum(m->load_ms);
	Assert(i == OG_MODELS_COLS);
#undef OG_TEXT
}

/*
 * Run fn(arg) in a subtransaction: an ERROR it raises becomes a WARNING
 * (with hint) and false is returned; the caller's transaction goes on.
 */
/*
 * In a PG_CATCH: the error being handled, copied into cxt (which becomes
 * current), and the error state cleared.
 */
ErrorData *
OgTakeError(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	return edata;
}

/*
 * Report a taken error as a WARNING, its message after prefix; detail and
 * hint replace the error's own unless NULL ("" drops them).  Frees edata.
 */
void
OgWarnError(ErrorData *edata, const char *prefix, const char *detail,
			const char *hint)
{
	if (detail == NULL)
		detail = edata->detail;
	if (hint == NULL)
		hint = edata->hint;
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("%s%s", prefix, edata->message),
			 detail && detail[0] ? errdetail_internal("%s", detail) : 0,
			 hint && hint[0] ? errhint("%s", hint) : 0));
	FreeErrorData(edata);
}

bool
OgRunAsWarning(void (*fn) (void *arg), void *arg, const char *hint)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata = OgTakeError(cxt);

		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		OgWarnError(edata, "", NULL, hint ? hint : "");
	}
	PG_END_TRY();
	return ok;
}

typedef struct OgStoredRef
{
	const char *name;
	const OgBlobHeader *blob;
	MemoryContext cxt;
	OgRefHeader *ref;
} OgStoredRef;

/* OgStoredReference's work, which may raise an ERROR. */
static void
OgStoredReferenceRead(void *arg)
{
	OgStoredRef *sr = (OgStoredRef *) arg;
	const OgBlobHeader *blob = sr->blob;
	const char *sha = OgBlobString(blob, blob->sha256);
	char	   *json = NULL;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	bool		isnull;

	args[0] = CStringGetTextDatum(sr->name);
	args[1] = CStringGetTextDatum(sha);
	SPI_connect();
	/* before ALTER EXTENSION og_model UPDATE to 0.2.0 there is no table */
	if (SPI_execute("SELECT pg_catalog.to_regclass('og_model.feature_references') IS NOT NULL",
					true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		SPI_execute_with_args("SELECT reference::text FROM og_model.feature_references "
							  "WHERE model OPERATOR(pg_catalog.=) $1 "
							  "AND sha256 OPERATOR(pg_catalog.=) $2",
							  2, types, args, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext spicxt = MemoryContextSwitchTo(sr->cxt);

			json = TextDatumGetCString(d);
			MemoryContextSwitchTo(spicxt);
		}
	}
	SPI_finish();
	if (json)
	{
		MemoryContext old = MemoryContextSwitchTo(sr->cxt);
		const char **fnames = palloc0(sizeof(char *) * Max(blob->n_features, 1));
		cJSON	   *volatile root = NULL;
		uint32		i;

		for (i = 0; i < blob->n_features; i++)
			fnames[i] = OgBlobFeatureName(blob, (int) i);
		PG_TRY();
		{
			root = OgJsonParse(sr->name, "og_model.feature_references", json, strlen(json));
			sr->ref = OgRefFromJson(root, sr->name, "og_model.feature_references",
									blob->n_features, fnames);
		}
		PG_FINALLY();
		{
			if (root)
				cJSON_Delete(root);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
	}
}

/*
 * The reference og_set_reference() stored for this artifact (it takes
 * precedence over one in the model file), or NULL when there is none.  A
 * stored reference that cannot be read is a WARNING: the model loads.
 */
static OgRefHeader *
OgStoredReference(const char *name, const OgBlobHeader *blob)
{
	OgStoredRef sr;

	if (OgBlobString(blob, blob->sha256) == NULL)
		return NULL;
	sr.name = name;
	sr.blob = blob;
	sr.cxt = CurrentMemoryContext;
	sr.ref = NULL;
	if (!OgRunAsWarning(OgStoredReferenceRead, &sr,
						"The model is loaded without it; set it again with og_set_reference()."))
		return NULL;
	return sr.ref;
}

/*
 * Resolve ref, compile and publish the model under name (replacing the
 * version loaded under it, if any); on any error nothing changes.  Returns
 * the compiled blob, a local copy in the current memory context.
 */
OgBlobHeader *
OgLoadModel(const char *name, const char *ref)
{
	instr_time	start,
				elapsed;
	OgBlobHeader *blob;
	Size		size;
	OgSource	src;
	bool		created;

	OgStoreCheckAvailable();
	OgCheckModelName(name);
	if (strlen(ref) > OG_MAX_REF_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid reference \"%s\" for model \"%s\"", OgEcho(ref), name),
				 errdetail("The reference has %zu bytes; the limit is %d.",
						   strlen(ref), OG_MAX_REF_BYTES)));
	INSTR_TIME_SET_CURRENT(start);
	memset(&src, 0, sizeof(src));
	src.model = name;
	src.ref = ref;
	OgResolveRef(&src);
	blob = OgCompile(&src, &size);
	blob->loaded_at = GetCurrentTimestamp();
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	blob->load_ms = INSTR_TIME_GET_MILLISEC(elapsed);
	created = OgStatsPrepare(blob, name, OgStoredReference(name, blob));
	PG_TRY();
	{
		OgStorePublish(name, blob, size);
	}
	PG_CATCH();
	{
		if (created)
			OgStatsForget(blob, name);
		PG_RE_THROW();
	}
	PG_END_TRY();
	OgStatsServing(blob, name);
	return blob;
}

Datum
og_load_model(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *ref = text_to_cstring(PG_GETARG_TEXT_PP(1));
	TupleDesc	tupdesc;
	MemoryContext loadcxt;
	MemoryContext oldcxt;
	OgBlobHeader *blob;
	Datum		values[OG_MODELS_COLS];
	bool		nulls[OG_MODELS_COLS];
	HeapTuple	tuple;

	OgStoreCheckAvailable();
	OgCheckModelName(name);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "og_load_model must return a row type");
	OgCheckModelsColumns(tupdesc);

	loadcxt = AllocSetContextCreate(CurrentMemoryContext, "og_model load",
									ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(loadcxt);
	blob = OgLoadModel(name, ref);
	MemoryContextSwitchTo(oldcxt);
	OgModelRow(blob, values, nulls);
	tuple = heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls);
	MemoryContextDelete(loadcxt);

	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

Datum
og_unload_model(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));

	bool		loaded;

	OgStoreCheckAvailable();
	OgCheckModelName(name);
	loaded = OgStoreUnload(name);
	/* also the statistics of versions not loaded since a restart */
	OgStatsDrop(name);
	PG_RETURN_BOOL(loaded);
}

typedef struct OgModelsScan
{
	Tuplestorestate *store;
	TupleDesc	tupdesc;
} OgModelsScan;

static void
OgModelsVisit(const OgBlobHeader *m, void *arg)
{
	OgModelsScan *scan = (OgModelsScan *) arg;
	Datum		values[OG_MODELS_COLS];
	bool		nulls[OG_MODELS_COLS];

	OgModelRow(m, values, nulls);
	tuplestore_putvalues(scan->store, scan->tupdesc, values, nulls);
}

/* og_model.models: one row per loaded model. */
Datum
og_models(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OgModelsScan scan;

	OgStoreCheckAvailable();
	InitMaterializedSRF(fcinfo, 0);
	scan.store = rsinfo->setResult;
	scan.tupdesc = rsinfo->setDesc;
	OgCheckModelsColumns(scan.tupdesc);
	OgStoreForEach(OgModelsVisit, &scan);
	return (Datum) 0;
}

/* og_model.memory: shared memory use of the store. */
Datum
og_memory(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OgStoreUsage usage;
	Datum		values[6];
	bool		nulls[6] = {0};

	OgStoreCheckAvailable();
	InitMaterializedSRF(fcinfo, 0);
	OgStoreGetUsage(&usage);
	values[0] = Int64GetDatum((int64) usage.area_bytes);
	values[1] = Int64GetDatum((int64) usage.used_bytes);
	values[2] = Int32GetDatum(usage.models);
	values[3] = Int32GetDatum(usage.max_models);
	values[4] = Int32GetDatum(usage.retired);
	values[5] = Int64GetDatum((int64) usage.retired_bytes);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
