-- Shared by post1k.lua and post16k.lua: POST a JSON document read from a file
-- that sits next to this script, so wrk can be started from any directory.
local M = {}

function M.setup(path, payload_file)
  local source = debug.getinfo(1, "S").source
  local dir = source:match("^@(.*/)") or "./"
  local file = assert(io.open(dir .. payload_file, "rb"))
  local body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.path = path
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  wrk.headers["User-Agent"] = "palisade-bench/1 (wrk)"
  -- Identity configurations of compare.sh pass a bearer token.
  local authorization = os.getenv("BENCH_AUTHORIZATION")
  if authorization and authorization ~= "" then
    wrk.headers["Authorization"] = authorization
  end
end

return M
