-- wrk script: replays requests.lua (written by prepare.py), each thread from its own offset,
-- and counts the answers by status class so a run with errors is visible.
local reqs = dofile(os.getenv("LOAD_REQUESTS") or "requests.lua")
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
  table.insert(threads, thread)
end

function init(args)
  i = offset or 0
  ok, client_err, server_err = 0, 0, 0
end

function request()
  i = i + 1
  local r = reqs[(i % #reqs) + 1]
  return wrk.format(r[1], r[2], r[3], r[4] ~= "" and r[4] or nil)
end

function response(status, headers, body)
  if status >= 500 then
    server_err = server_err + 1
  elseif status >= 400 then
    client_err = client_err + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local o, c, s = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    c = c + t:get("client_err")
    s = s + t:get("server_err")
  end
  io.write(string.format("answers: %d 2xx, %d 4xx, %d 5xx\n", o, c, s))
  io.write(string.format("latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("throughput: %.0f req/s (%d requests in %.1f s)\n",
    summary.requests / (summary.duration / 1e6), summary.requests, summary.duration / 1e6))
end
