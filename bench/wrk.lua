-- wrk script for bench/run.sh.
--
--   wrk ... -s bench/wrk.lua <url> [-- DEPTH]
--
-- DEPTH > 1 sends DEPTH requests in one write and waits for all DEPTH answers before
-- sending the next batch (HTTP/1.1 pipelining); wrk counts every answer as a request.
-- Without an argument (or 1) wrk's own static request is used unchanged.
--
-- At the end one machine-readable line goes to stdout, so run.sh does not have to parse
-- wrk's human summary (whose units change with the magnitude: us, ms, s, k, M).

function init(args)
   local depth = tonumber(args[1] or "1")
   if depth > 1 then
      -- wrk.format() applies the -H headers and the Host header wrk already set up.
      local batch = string.rep(wrk.format(nil, nil), depth)
      -- Defining `request` makes wrk ask for the batch on every send; wrk works out
      -- the pipeline depth by parsing it once.
      request = function() return batch end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d "
         .. "connect=%d read=%d write=%d timeout=%d status=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      e.connect, e.read, e.write, e.timeout, e.status))
end
