-- wrk script: GET /auth/verify (or another path) with a bearer token drawn at random from
-- the file named by the TOKENS_FILE environment variable (one token per line).
--
-- Every request is formatted once, in init: formatting it per request made wrk (one thread,
-- one core) the bottleneck at 100,000 tokens, each new string costing Lua an intern and a
-- collection (nginx fell from ~148,000 to ~91,000 answers/s with wrk at 100% CPU).
local requests = {}
local path = os.getenv("TARGET_PATH") or "/auth/verify"
local method = os.getenv("TARGET_METHOD") or "GET"
local body_mode = os.getenv("BODY_MODE") or ""  -- "introspect": POST token=<random token>
local caller = os.getenv("CALLER_TOKEN")         -- introspection: the caller's own token

local function format(token)
  if body_mode == "introspect" then
    return wrk.format("POST", path, {
      ["Authorization"] = "Bearer " .. caller,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "token=" .. token)
  end
  return wrk.format(method, path, { ["Authorization"] = "Bearer " .. token })
end

function init(args)
  local file = assert(io.open(os.getenv("TOKENS_FILE"), "r"))
  for line in file:lines() do
    if #line > 0 then requests[#requests + 1] = format(line) end
  end
  file:close()
  math.randomseed(os.time())
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout + summary.errors.status
  io.write(string.format("RESULT rps=%.0f p50_us=%d p99_us=%d errors=%d non2xx=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50),
    latency:percentile(99), errors, summary.errors.status, summary.requests))
end
