-- Move up to MAX visible messages of a dead-letter queue to a destination
-- queue, or each to the queue it was dead-lettered from when DESTINATION
-- is "". Atomic because taking each message and adding it to its
-- destination happen in one script run, so a message is never in both or
-- in neither. Moved messages keep their ID, body, attributes and sent time.
-- Returns false when the source queue does not exist, else { moved, keys
-- of the queues that got messages, failure reason or false }.

local source_key = ARGV[1]
local destination = ARGV[2]
local max = tonumber(ARGV[3])
local now = tonumber(ARGV[4])

local q = open_queue(source_key)
if q == nil then
    return false
end
local hidden = q.prefix .. "h"
local moved = 0
local targets = {}
local failure = false

-- Move the message of the front item of `visible`. When the message has no
-- destination, set `failure` and return false, and the message stays.
local function move_front(visible)
    local item = call(visible, "peek_left")
    local record = item
    if type(item) == "number" then
        record = call(hidden, "get", item)
    end
    if record == nil then
        call(visible, "pop_left")
        add_counter(q, "X", -1)
        if q.fifo then
            add_counter(q, "V", -1)
        end
        return true
    end
    local m = parse_record(record)
    local target = destination
    if target == "" then
        target = m.source
    end
    if target == "" then
        failure = "message " .. message_id(m) .. " was not dead-lettered from any queue"
        return false
    end
    if call("Q", "get", target) == nil then
        failure = "the destination queue " .. target .. " does not exist"
        return false
    end
    call(visible, "pop_left")
    if q.fifo then
        add_counter(q, "V", -1)
    end
    if type(item) == "number" then
        call(hidden, "delete", item)
        add_counter(q, "R", -1)
    end
    if m.sent + q.retention_ms > now then
        move_message(m, target, "")
        targets[target] = true
        moved = moved + 1
    end
    return true
end

if q.fifo then
    local ready = q.prefix .. "r"
    while moved < max and not failure do
        local group = call(ready, "peek_left")
        if group == nil then
            break
        end
        local name = group_queue(q, group)
        if call(name, "len") == 0 then
            call(ready, "pop_left")
            settle_group(q, group)
        elseif not move_front(name) then
            break
        end
    end
else
    local visible = q.prefix .. "v"
    while moved < max and not failure do
        if call(visible, "len") == 0 or not move_front(visible) then
            break
        end
    end
end

local target_list = {}
for target in pairs(targets) do
    target_list[#target_list + 1] = target
end
table.sort(target_list)
return { moved, target_list, failure }
