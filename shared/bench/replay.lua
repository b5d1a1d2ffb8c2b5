-- wrk script: replays the JSON bodies of a file (one a line) as POSTs, in order, and prints one
-- JSON line of figures when done. Used by shared/bench/load.py.
local requests = {}
local next_request = 0
statuses = {} -- global: done() reads it from each thread

function init(args)
  for line in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, line)
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local errors = summary.errors
  totals[0] = errors.connect + errors.read + errors.write + errors.timeout -- no HTTP status
  local counts = {}
  for status, count in pairs(totals) do
    if count > 0 then
      counts[#counts + 1] = string.format('"%d":%d', status, count)
    end
  end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    table.concat(counts, ",")))
end
