-- wrk script for the harness. The harness prepends `local config = {...}`
-- with the requests to send; this part picks them per mode:
--   static: one fixed request, formatted once by wrk (the fastest path);
--   cycle:  receive one message, then delete it by its receipt handle;
--   steady: odd threads send, even threads run the receive and delete cycle.
-- done() prints one line "BENCH_JSON {...}" that the harness parses. A delete
-- reply and an empty SQS receive reply can both be "{}", so empty receives are
-- counted as receives sent minus receives that returned a handle.

local threads = {}
local thread_count = 0

function setup(thread)
    thread_count = thread_count + 1
    local role = config.mode
    if config.mode == "steady" then
        role = (thread_count % 2 == 1) and "producer" or "consumer"
    end
    thread:set("role", role)
    table.insert(threads, thread)
end

sent = 0
received = 0
receives = 0
nonempty = 0
handles = {}

local send_request, receive_request

function init(args)
    if config.send then
        local s = config.send
        send_request = wrk.format(s.method, s.path, s.headers, s.body)
    end
    if config.receive then
        local r = config.receive
        receive_request = wrk.format(r.method, r.path, r.headers, r.body)
    end
    if config.mode == "static" then
        local s = config.send
        wrk.method, wrk.path, wrk.headers, wrk.body = s.method, s.path, s.headers, s.body
    end
end

local function delete_request(handle)
    local d = config.delete
    if d.kind == "path" then
        return wrk.format(d.method, d.path_prefix .. handle, d.headers, nil)
    end
    return wrk.format(d.method, d.path, d.headers, d.body_prefix .. handle .. d.body_suffix)
end

if config.mode ~= "static" then
    function request()
        if role == "producer" then
            return send_request
        end
        local handle = table.remove(handles)
        if handle then
            return delete_request(handle)
        end
        receives = receives + 1
        return receive_request
    end

    function response(status, headers, body)
        if role == "producer" then
            if status < 300 then
                sent = sent + config.messages_per_send
            end
            return
        end
        if status >= 300 or body == nil then
            return
        end
        local found = 0
        for handle in string.gmatch(body, config.handle_pattern) do
            handles[#handles + 1] = handle
            found = found + 1
        end
        if found > 0 then
            received = received + found
            nonempty = nonempty + 1
        end
    end
end

function done(summary, latency, requests)
    local total_sent, total_received, pending = 0, 0, 0
    local total_receives, total_nonempty = 0, 0
    for _, thread in ipairs(threads) do
        total_sent = total_sent + (thread:get("sent") or 0)
        total_received = total_received + (thread:get("received") or 0)
        total_receives = total_receives + (thread:get("receives") or 0)
        total_nonempty = total_nonempty + (thread:get("nonempty") or 0)
        local left = thread:get("handles")
        if left then
            pending = pending + #left
        end
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
        '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
        '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p99_9":%d,"max":%d,"mean":%.1f},' ..
        '"sent":%d,"received":%d,"receives":%d,"nonempty_receives":%d,"undeleted":%d}\n',
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9), latency.max, latency.mean,
        total_sent, total_received, total_receives, total_nonempty, pending))
end
