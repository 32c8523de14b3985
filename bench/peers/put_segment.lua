-- wrk script for nginx_put_throughput.sh: PUTs a fixed-size segment body to
-- changing /<camera>/<seq> paths, the HTTP shape of a camera uploading
-- numbered segments.
--
--   wrk -t2 -c1000 -d30s --latency -s put_segment.lua https://127.0.0.1:8443 -- 262144 128
--
-- Arguments after "--": body bytes (default 262144) and how many distinct
-- paths each wrk thread cycles through (default 128). The requests are built
-- once per thread: formatting a 256 KiB request per call would spend the
-- client's CPU, which shares the machine's two cores with the server. The
-- paths repeat, so later PUTs replace earlier files and the disk use stays
-- bounded (threads x paths x body bytes).

local requests = {}
local next_request = 1
local threads_made = 0

function setup(thread)
  thread:set("thread_id", threads_made)
  threads_made = threads_made + 1
end

function init(args)
  local body_bytes = tonumber(args[1]) or 262144
  local paths = tonumber(args[2]) or 128
  local body = string.rep("s", body_bytes)
  for i = 1, paths do
    local path = string.format("/cam-%d-%02d/%06d", thread_id, i % 16, i)
    requests[i] = wrk.format("PUT", path, {["Content-Type"] = "application/octet-stream"}, body)
  end
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end
