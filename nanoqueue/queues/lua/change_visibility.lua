-- Change the visibility timeout of in-flight messages by the sequence
-- number and receive count in their receipt handles. Atomic because each
-- check of the delivery and the move of its timer happen in one script run.
-- ARGV after the first three contains SEQ, RECEIVES and TIMEOUT_S per entry.
-- A timeout may reach at most 12 hours past the receive. Returns false when
-- the queue does not exist, else { per entry 0 (changed), 1 (not in
-- flight) or 2 (past 12 hours), per entry seconds left of the 12 hours,
-- messages made visible }.

local key = ARGV[1]
local now = tonumber(ARGV[2])
local count = tonumber(ARGV[3])

local MAX_VISIBILITY_MS = 43200000

local q = open_queue(key)
if q == nil then
    return false
end
local hidden = q.prefix .. "h"
local results = {}
local left = {}
local woken = 0
for i = 1, count do
    local base = 3 + (i - 1) * 3
    local seq = tonumber(ARGV[base + 1])
    local receives = tonumber(ARGV[base + 2])
    local timeout_ms = tonumber(ARGV[base + 3]) * 1000
    local record = call(hidden, "get", seq)
    local m = nil
    if record ~= nil then
        m = parse_record(record)
    end
    left[i] = 0
    if m == nil or m.receives ~= receives or m.state ~= "f" then
        results[i] = 1
    else
        local limit = m.last + MAX_VISIBILITY_MS
        left[i] = (limit - now) // 1000
        if now + timeout_ms > limit then
            results[i] = 2
        elseif timeout_ms == 0 then
            call("T", "remove", timer_name(q, seq))
            return_message(q, m)
            woken = woken + 1
            results[i] = 0
        else
            call("T", "add", timer_name(q, seq), now + timeout_ms)
            results[i] = 0
        end
    end
end
return { results, left, woken }
