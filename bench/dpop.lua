-- wrk script: one DPoP proof per request (each jti works once), read from BENCH_TOKENS (one
-- per line, minted by dpop-proofs just before the run). POST /token client_credentials when
-- BENCH_AUTH is set, otherwise GET /userinfo with BENCH_ACCESS_TOKEN (scheme DPoP). Without
-- BENCH_TOKENS: the plain (bearer) request, for comparison. Run with -t1.
-- Environment: BENCH_DIR, BENCH_AUTH or BENCH_ACCESS_TOKEN, BENCH_TOKENS.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

local proofs, next_proof = {}, 1
local file = os.getenv("BENCH_TOKENS") or ""
if file ~= "" then
  for line in io.lines(file) do
    proofs[#proofs + 1] = line
  end
end
local auth = os.getenv("BENCH_AUTH") or ""
local token = os.getenv("BENCH_ACCESS_TOKEN") or ""

function request()
  local headers = {}
  if #proofs > 0 then
    -- Out of proofs: the answer is an error and shows up in non2xx.
    headers["DPoP"] = proofs[next_proof] or "exhausted"
    next_proof = next_proof + 1
  end
  if auth ~= "" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["Authorization"] = auth
    return wrk.format("POST", "/token", headers, "grant_type=client_credentials")
  end
  headers["Authorization"] = ((#proofs > 0) and "DPoP " or "Bearer ") .. token
  return wrk.format("GET", "/userinfo", headers)
end
