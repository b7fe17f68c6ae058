-- Shared by every wrk script here: prints one machine-readable summary line that run.sh reads.
-- Requests answered with a status >= 400 are counted by wrk as "Non-2xx or 3xx" (errors.status)
-- and are not counted as successes.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d non2xx=%d sockerr=%d duration_us=%d p50_us=%d p99_us=%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
