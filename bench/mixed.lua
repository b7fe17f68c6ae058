-- wrk script for the soak (bench/soak.sh): a mix of what an IdP serves all day, request by
-- request in turn: client_credentials (ES256), introspection of a live token, userinfo-free
-- refresh rotation, discovery, JWKS. Refresh tokens come from BENCH_TOKENS (one chain per
-- line); each answer's new refresh token goes back into the pool, so the chains rotate for
-- as long as the run lasts. Run with -t1 (one Lua state owns the pool).
-- Environment: BENCH_DIR, BENCH_CC_AUTH, BENCH_RT_AUTH, BENCH_TOKEN (to introspect),
-- BENCH_TOKENS.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

local pool = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  pool[#pool + 1] = line
end

local form = "application/x-www-form-urlencoded"
local cc = wrk.format("POST", "/token",
  { ["Content-Type"] = form, ["Authorization"] = os.getenv("BENCH_CC_AUTH") },
  "grant_type=client_credentials")
local introspect = wrk.format("POST", "/introspect",
  { ["Content-Type"] = form, ["Authorization"] = os.getenv("BENCH_CC_AUTH") },
  "token=" .. os.getenv("BENCH_TOKEN"))
local discovery = wrk.format("GET", "/.well-known/openid-configuration")
local jwks = wrk.format("GET", "/jwks")
local rt_headers = { ["Content-Type"] = form, ["Authorization"] = os.getenv("BENCH_RT_AUTH") }

local turn = 0
function request()
  turn = turn % 5 + 1
  if turn == 1 then return cc end
  if turn == 2 then return introspect end
  if turn == 3 then return discovery end
  if turn == 4 then return jwks end
  local t = table.remove(pool)
  if t == nil then return discovery end -- every chain is in flight
  return wrk.format("POST", "/token", rt_headers, "grant_type=refresh_token&refresh_token=" .. t)
end

function response(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then pool[#pool + 1] = t end
end
