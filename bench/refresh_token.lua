-- wrk script: POST /token, grant_type=refresh_token. Refresh tokens rotate (each is
-- single-use), so every request spends the next unused token of BENCH_TOKENS (one plaintext
-- token per line, written by bench/seed). Run with a single wrk thread (-t1) so that one Lua
-- state hands out the tokens and none is sent twice.
-- Environment: BENCH_DIR, BENCH_AUTH, BENCH_TOKENS.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

local tokens, next_token = {}, 1
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  tokens[#tokens + 1] = line
end

local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = os.getenv("BENCH_AUTH"),
}

function request()
  local t = tokens[next_token]
  if t == nil then
    -- Out of seeded tokens: the answer is a 400 and shows up in non2xx; run.sh warns.
    t = "exhausted"
  end
  next_token = next_token + 1
  return wrk.format("POST", "/token", headers, "grant_type=refresh_token&refresh_token=" .. t)
end
