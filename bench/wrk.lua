-- wrk script for bench/bench.py.
--   wrk ... -s bench/wrk.lua URL -- BODIES TOKEN PATH
-- With BODIES (a file of one JSON request body a line) every request is
-- a POST of the next body, the threads starting at different places;
-- with BODIES "-" plain GETs.  done() prints one line for bench.py:
--   WRK <requests> <duration us> <p50 us> <p99 us> <non-2xx> <socket errors>
local reqs = {}
local idx = 0
local nthreads = 0

setup = function(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
end

init = function(args)
	local bodies, token, path = args[1], args[2], args[3]
	if bodies == nil or bodies == "-" then
		return
	end
	local headers = { ["Content-Type"] = "application/fhir+json",
	    ["Authorization"] = "Bearer " .. token }
	for line in io.lines(bodies) do
		reqs[#reqs + 1] = wrk.format("POST", path, headers, line)
	end
	-- Threads start far apart in the list.
	idx = math.floor(#reqs * ((tid or 1) - 1) / 4) % #reqs
end

request = function()
	if #reqs == 0 then
		return wrk.format(nil, nil)
	end
	idx = idx % #reqs + 1
	return reqs[idx]
end

done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("WRK %d %d %d %d %d %d\n", summary.requests,
	    summary.duration, latency:percentile(50), latency:percentile(99),
	    e.status, e.connect + e.read + e.write + e.timeout))
end
