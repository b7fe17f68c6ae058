-- wrk script: POST an introspection request (RFC 7662) for one token, client_secret_basic.
-- Environment: BENCH_DIR, BENCH_AUTH (the whole "Basic ..." header value), BENCH_TOKEN.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.body = "token=" .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
