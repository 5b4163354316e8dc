-- Delete messages by the sequence number and receive count in their
-- receipt handles. Atomic because each check of the delivery and the
-- removal of its record and timer happen in one script run, so a message
-- re-received meanwhile is never deleted by an older handle.
-- ARGV after the first three contains SEQ and RECEIVES per entry. STRICT
-- "1" accepts only the current in-flight delivery. STRICT "0" follows SQS:
-- the latest handle also deletes a message that became visible again, and
-- any other handle succeeds without effect. Returns false when the queue
-- does not exist, else { per entry true or false (not in flight), groups
-- woken }.

local key = ARGV[1]
local strict = ARGV[2] == "1"
local count = tonumber(ARGV[3])

local q = open_queue(key)
if q == nil then
    return false
end
local hidden = q.prefix .. "h"
local results = {}
local woken = 0
for i = 1, count do
    local seq = tonumber(ARGV[2 + i * 2])
    local receives = tonumber(ARGV[3 + i * 2])
    local record = call(hidden, "get", seq)
    local m = nil
    if record ~= nil then
        m = parse_record(record)
    end
    if m == nil or m.receives ~= receives or m.state == "d" then
        results[i] = not strict
    elseif m.state == "f" then
        call("T", "remove", timer_name(q, seq))
        if release_message(q, m) then
            woken = woken + 1
        end
        results[i] = true
    elseif strict then
        results[i] = false
    else
        release_message(q, m)
        results[i] = true
    end
end
return { results, woken }
