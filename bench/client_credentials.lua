-- wrk script: POST /token, grant_type=client_credentials, client_secret_basic.
-- Environment: BENCH_DIR, BENCH_AUTH (the whole "Basic ..." header value).
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
