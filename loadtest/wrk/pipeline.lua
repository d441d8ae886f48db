-- HTTP/1.1 pipelining for wrk: every write carries DEPTH copies of the request, and the next
-- write goes out once all DEPTH answers are in, so the client's cost per request (syscalls,
-- wakeups, a Lua call) is divided by about DEPTH. For requests that cost the server little
-- (tail reads with nothing new), this keeps wrk cheaper per request than the server, so the
-- server is the limit. Prints the same JSON line as report.lua.
--   wrk -t1 -c16 -d10s -s loadtest/wrk/pipeline.lua "http://127.0.0.1:2025/logs?from=123" -- 16
-- wrk counts every pipelined answer as a request; its latency figures are per batch (first
-- request of a write to the last answer of it), not per request.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local batch

init = function(args)
  local depth = tonumber(args[1] or "16") or 16
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format()
  end
  batch = table.concat(requests)
end

request = function()
  return batch
end
