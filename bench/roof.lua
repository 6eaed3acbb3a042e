-- wrk script for the nginx roof: same shape of request (a bearer header), fixed answer. The
-- requests are formatted once, in init, as in verify.lua.
local requests = {}
function init(args)
  local file = assert(io.open(os.getenv("TOKENS_FILE"), "r"))
  for line in file:lines() do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("GET", "/", { ["Authorization"] = "Bearer " .. line })
    end
  end
  file:close()
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
