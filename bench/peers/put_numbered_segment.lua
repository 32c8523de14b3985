-- wrk script: PUTs a fixed-size segment body to a new path every time, as an
-- encoder pushing HLS does (each segment a new name), for
-- bench/scripts/https_put_throughput.sh (ingestd) and, for the same client
-- work, bench/peers/nginx_put_throughput.sh numbered (nginx).
--
--   wrk -t2 -c1000 -d20s --latency -s put_numbered_segment.lua https://127.0.0.1:8443 -- \
--       262144 /v1/cameras "Bearer <token>"
--
-- Arguments after "--": body bytes (default 262144), the path prefix, an
-- Authorization value (optional), and "chunked" to send the body with
-- Transfer-Encoding: chunked in 16 KiB chunks, as ffmpeg's HLS push does
-- (the server then does not know the size up front), or "hls" to follow
-- every segment with a PUT of a playlist listing it, as an HLS push does
-- (ingestd keeps each playlist, durable before its 201). ingestd: <prefix>/b<thread>-<n>/live0.ts, a
-- camera per request, so no two connections ever push the same camera (that
-- would be a take-over) and each PUT is a new segment stored, never a re-PUT
-- answered from memory. nginx: <prefix>/b<thread>/<n>.ts, one folder per
-- thread, so it makes no directory per request.
--
-- The request is formatted per call (the path changes): one copy of the body
-- in Lua per request, the same on both servers.

local threads_made = 0
local body, prefix, headers, chunked_body, authorization
local playlist_body, playlist_headers
local numbered_cameras = true
local n = 0

function setup(thread)
  thread:set("thread_id", threads_made)
  threads_made = threads_made + 1
end

function init(args)
  body = string.rep("s", tonumber(args[1]) or 262144)
  prefix = args[2] or ""
  headers = {["Content-Type"] = "video/mp2t"}
  if args[3] ~= nil and args[3] ~= "" then
    headers["Authorization"] = args[3]
    authorization = args[3]
  end
  numbered_cameras = prefix:find("/v1/cameras", 1, true) ~= nil
  if args[4] == "hls" then
    playlist_body = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000000,\nlive0.ts\n"
    playlist_headers = {["Content-Type"] = "application/vnd.apple.mpegurl", ["Authorization"] = authorization}
  end
  if args[4] == "chunked" then
    local chunks = {}
    for at = 1, #body, 16384 do
      local part = body:sub(at, at + 16383)
      chunks[#chunks + 1] = string.format("%x\r\n", #part) .. part .. "\r\n"
    end
    chunked_body = table.concat(chunks) .. "0\r\n\r\n"
  end
end

function request()
  n = n + 1
  if playlist_body ~= nil and n % 2 == 0 then
    -- The playlist of the camera whose segment was the request before.
    return wrk.format("PUT", string.format("%s/b%d-%d/live.m3u8", prefix, thread_id, n - 1), playlist_headers,
                      playlist_body)
  end
  local path
  if numbered_cameras then
    path = string.format("%s/b%d-%d/live0.ts", prefix, thread_id, n)
  else
    path = string.format("%s/b%d/%d.ts", prefix, thread_id, n)
  end
  if chunked_body ~= nil then
    -- wrk.format would add a Content-Length beside the chunked coding.
    local auth = authorization and ("Authorization: " .. authorization .. "\r\n") or ""
    return "PUT " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1\r\n" .. auth ..
           "Content-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\n\r\n" .. chunked_body
  end
  return wrk.format("PUT", path, headers, body)
end
