-- POST /login once per prepared pending login ("id csrf" lines in LOGINS_FILE), with the
-- right password: each request is one complete password login (Argon2id verification,
-- session, audit record; the code itself is issued at the /authorize/resume it redirects to).
local lines = {}
for line in io.lines(os.getenv("LOGINS_FILE")) do
  local id, csrf = line:match("^(%S+) (%S+)$")
  if id then lines[#lines + 1] = { id = id, csrf = csrf } end
end
local i = 0
local user = os.getenv("LOGIN_USER")
local password = os.getenv("LOGIN_PASSWORD")

request = function()
  i = i + 1
  local l = lines[((i - 1) % #lines) + 1]
  local body = "id=" .. l.id .. "&csrf=" .. l.csrf .. "&username=" .. user .. "&password=" .. password .. "&lang=cs"
  return wrk.format("POST", "/login", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "mpsv_csrf=" .. l.csrf,
  }, body)
end

local ok, other = 0, 0
response = function(status)
  if status == 303 then ok = ok + 1 else other = other + 1 end
end
