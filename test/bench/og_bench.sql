-- The benchmark's C functions (og_bench.c); psql variable libpath: the
-- og_bench library's path without its suffix.
CREATE FUNCTION og_bench_noop(text, float8[]) RETURNS float8
	AS :'libpath', 'og_bench_noop' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION og_bench_sum(text, float8[]) RETURNS float8
	AS :'libpath', 'og_bench_sum' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION og_bench_blob(name text, OUT bytes bigint, OUT cover_bytes bigint)
	AS :'libpath', 'og_bench_blob' LANGUAGE C STRICT STABLE;
CREATE FUNCTION og_bench_walk(text, float8[], int) RETURNS float8
	AS :'libpath', 'og_bench_walk' LANGUAGE C STRICT STABLE;
CREATE FUNCTION og_bench_quantized(text, float8[]) RETURNS float8
	AS :'libpath', 'og_bench_quantized' LANGUAGE C STRICT STABLE;
CREATE FUNCTION og_bench_block_step(internal, text, float8[]) RETURNS internal
	AS :'libpath', 'og_bench_block_step' LANGUAGE C STABLE;
CREATE FUNCTION og_bench_block_final(internal) RETURNS float8
	AS :'libpath', 'og_bench_block_final' LANGUAGE C STABLE;
CREATE AGGREGATE og_bench_block(text, float8[]) (
	SFUNC = og_bench_block_step, STYPE = internal, FINALFUNC = og_bench_block_final);
