-- wrk script: creates API tokens through POST /api/v1/tokens as fast as the server takes
-- them, and writes each created token and its id to TOKENS_FILE and TOKENS_FILE.ids.
-- Run with -t1 (one Lua state owns the files). After COUNT answers the thread stops sending;
-- it then creates TOKENS_FILE.done. wrk itself runs until its duration ends or it gets SIGINT
-- (bench/load.sh sends it once TOKENS_FILE.done exists), then prints the summary.
-- Env: ADMIN_TOKEN (an Administrator token), BODY (the JSON fields other than "name",
-- without braces), COUNT, TOKENS_FILE.
local admin = os.getenv("ADMIN_TOKEN")
local fields = os.getenv("BODY")
local count = tonumber(os.getenv("COUNT"))
local tokens_file, ids_file
local sent, created, failed = 0, 0, 0

function init(args)
  tokens_file = assert(io.open(os.getenv("TOKENS_FILE"), "w"))
  ids_file = assert(io.open(os.getenv("TOKENS_FILE") .. ".ids", "w"))
end

function request()
  sent = sent + 1
  return wrk.format("POST", "/api/v1/tokens", {
    ["Authorization"] = "Bearer " .. admin,
    ["Content-Type"] = "application/json",
  }, string.format('{"name":"bench token %d",%s}', sent, fields))
end

function response(status, headers, body)
  if status == 201 then
    local token = body:match('"token"%s*:%s*"([^"]+)"')
    local id = body:match('"id"%s*:%s*"([^"]+)"')
    tokens_file:write(token, "\n")
    ids_file:write(id, "\n")
    created = created + 1
  else
    failed = failed + 1
  end
  if (created + failed) % 1000 == 0 or created + failed == count then
    tokens_file:flush()
    ids_file:flush()
  end
  if created + failed == count then
    assert(io.open(os.getenv("TOKENS_FILE") .. ".done", "w")):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local ok = summary.requests - summary.errors.status
  io.write(string.format("RESULT create_rate=%.0f created=%d failed=%d seconds=%.2f p99_us=%d\n",
    ok / (summary.duration / 1e6), ok, summary.errors.status, summary.duration / 1e6,
    latency:percentile(99)))
end
