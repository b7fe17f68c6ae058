-- wrk script for plain GETs (discovery, JWKS): only the summary line.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
